"""The Supabase-shaped baseline: ``auth.users``/``auth.identities`` and ``public.profiles``.

Against an empty database (embedded PostgreSQL, CI) this creates them exactly as Supabase has
them. Against a real Supabase project they already exist and nothing is created or altered:
every step looks first. Reversing it drops nothing; synthadmin never drops Supabase tables.
"""

from pathlib import Path

import django.db.models.deletion
import django.db.models.functions.datetime
import uuid
from django.db import migrations, models

from synthadmin.supabase_schema import create_unless_exists

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def create_baseline(apps, schema_editor):
    create_unless_exists(schema_editor, table="auth.users", sql_file=SQL_DIR / "auth_schema.sql")
    create_unless_exists(schema_editor, table="public.profiles", sql_file=SQL_DIR / "profiles_table.sql")


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.RunPython(create_baseline, migrations.RunPython.noop, elidable=False),
        migrations.CreateModel(
            name="AuthUser",
            fields=[
                ("id", models.UUIDField(primary_key=True, serialize=False)),
                ("instance_id", models.UUIDField(null=True)),
                ("aud", models.CharField(max_length=255, null=True)),
                ("role", models.CharField(max_length=255, null=True)),
                ("email", models.CharField(max_length=255, null=True)),
                ("email_confirmed_at", models.DateTimeField(null=True)),
                ("last_sign_in_at", models.DateTimeField(null=True)),
                ("raw_app_meta_data", models.JSONField(null=True)),
                ("raw_user_meta_data", models.JSONField(null=True)),
                ("created_at", models.DateTimeField(null=True)),
                ("updated_at", models.DateTimeField(null=True)),
                ("deleted_at", models.DateTimeField(null=True)),
                ("is_sso_user", models.BooleanField(default=False)),
                ("is_anonymous", models.BooleanField(default=False)),
            ],
            options={
                "verbose_name": "auth user",
                "db_table": 'auth"."users',
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="Profile",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, primary_key=True, serialize=False)),
                ("email", models.TextField()),
                ("username", models.TextField(blank=True, null=True)),
                (
                    "role",
                    models.TextField(choices=[("patient", "Patient"), ("therapist", "Therapist")]),
                ),
                (
                    "therapist",
                    models.ForeignKey(
                        blank=True,
                        db_column="therapist_id",
                        db_constraint=False,
                        limit_choices_to={"role": "therapist"},
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="patients",
                        to="profiles.profile",
                    ),
                ),
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
                "db_table": 'public"."profiles',
                "ordering": ["-created_at"],
                "managed": False,
            },
        ),
    ]
