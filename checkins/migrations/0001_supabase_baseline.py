"""The Supabase-shaped ``public.check_ins`` table, created only where it does not exist yet.

Reversing it drops nothing; synthadmin never drops Supabase tables.
"""

from pathlib import Path

import django.db.models.deletion
import django.db.models.functions.datetime
import uuid
from django.db import migrations, models

from synthadmin.supabase_schema import create_unless_exists

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def create_baseline(apps, schema_editor):
    create_unless_exists(schema_editor, table="public.check_ins", sql_file=SQL_DIR / "check_ins_table.sql")


class Migration(migrations.Migration):
    initial = True

    dependencies = [("profiles", "0001_supabase_baseline")]

    operations = [
        migrations.RunPython(create_baseline, migrations.RunPython.noop, elidable=False),
        migrations.CreateModel(
            name="CheckIn",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                (
                    "user",
                    models.ForeignKey(
                        db_column="user_id",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="checkins",
                        to="profiles.profile",
                    ),
                ),
                ("checkin_date", models.DateField()),
                ("sleep_data", models.JSONField(default=dict)),
                ("mood_data", models.JSONField(default=dict)),
                ("symptoms_data", models.JSONField(default=dict)),
                ("risk_routine_data", models.JSONField(default=dict)),
                ("appetite_impulse_data", models.JSONField(default=dict)),
                ("meds_context_data", models.JSONField(default=dict)),
                (
                    "created_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(), editable=False
                    ),
                ),
                (
                    "updated_at",
                    models.DateTimeField(
                        db_default=django.db.models.functions.datetime.Now(), editable=False
                    ),
                ),
            ],
            options={
                "verbose_name": "check-in",
                "db_table": 'public"."check_ins',
                "ordering": ["-checkin_date"],
                "managed": False,
                "constraints": [
                    models.UniqueConstraint(
                        fields=("user", "checkin_date"), name="unique_checkin_per_user_per_day"
                    )
                ],
            },
        ),
    ]
