"""``SyntheticUser.never_sent``: an attempt a stop ended before it created anything.

Backfilled from the rule it replaces: such attempts were recorded ``failed`` with the gateways'
``AuthCancelledError`` text, which starts with "stopped " ("stopped while waiting to call
Supabase Auth", "stopped before trying to create user", ...).
"""

from django.db import migrations, models


def never_sent_backfill(apps, schema_editor):
    SyntheticUser = apps.get_model("synthadmin", "SyntheticUser")
    SyntheticUser.objects.filter(state="failed", failure_reason__startswith="stopped ").update(
        never_sent=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("synthadmin", "0008_tasks_background_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="syntheticuser",
            name="never_sent",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(never_sent_backfill, migrations.RunPython.noop),
    ]
