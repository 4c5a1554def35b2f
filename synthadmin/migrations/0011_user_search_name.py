"""Names staff can search: ``SyntheticUser.search_name``, the displayed name folded
(``synthadmin.text.name_folded``: no accents, case folded), with a GIN index of its words.

The services write it with each ledger entry; entries made before this migration get it here,
once, from their Auth user's ``raw_user_meta_data.name`` — read by primary key for the ledger's
users only, a batch at a time (the admin's search never reads ``auth.users``).
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

from synthadmin.text import name_folded

BATCH = 1000


def backfill(apps, schema_editor):
    SyntheticUser = apps.get_model("synthadmin", "SyntheticUser")
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('auth.users') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return  # no Auth schema here: no user to name
    last = 0
    while True:
        entries = list(
            SyntheticUser.objects.filter(id__gt=last, search_name="")
            .order_by("id")
            .values_list("id", "user_id")[:BATCH]
        )
        if not entries:
            return
        last = entries[-1][0]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, raw_user_meta_data ->> 'name' FROM auth.users WHERE id = ANY(%s)",
                [[user_id for _, user_id in entries]],
            )
            names = {user_id: name for user_id, name in cursor.fetchall() if name}
        changed = [
            SyntheticUser(id=entry_id, search_name=name_folded(names[user_id]))
            for entry_id, user_id in entries
            if user_id in names
        ]
        SyntheticUser.objects.bulk_update(changed, ["search_name"])


class Migration(migrations.Migration):
    dependencies = [
        ("synthadmin", "0010_state_intervals"),
    ]

    operations = [
        migrations.AddField(
            model_name="syntheticuser",
            name="search_name",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddIndex(
            model_name="syntheticuser",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector("search_name", config="simple"),
                name="user_search_name",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
    ]
