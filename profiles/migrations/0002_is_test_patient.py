"""Add ``public.profiles.is_test_patient``: the flag that tells synthetic users from real ones.

Where the column already exists (the live database has it, from the app's own migration) this
changes nothing, not even the comment. Where it is missing, it adds the column, its index (built
``CONCURRENTLY``, so the migration is non-atomic) and a comment, under a short ``lock_timeout``,
and remembers what it added: the reverse drops only that. See ``profiles/flag.py``.
"""

from django.db import migrations, models

from profiles.flag import COMMENT, flag_add, flag_remove


def forward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        flag_add(cursor)


def backward(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        flag_remove(cursor)


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [("profiles", "0001_supabase_baseline")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forward, backward, elidable=False)],
            state_operations=[
                migrations.AddField(
                    model_name="profile",
                    name="is_test_patient",
                    field=models.BooleanField(db_comment=COMMENT, db_default=False, default=False, null=True),
                ),
            ],
        ),
    ]
