"""Add ``public.profiles.is_test_patient``: the flag that tells synthetic users from real ones.

Written as the app's own migration wrote it (``ADD COLUMN IF NOT EXISTS``, ``CREATE INDEX IF NOT
EXISTS``), so it is a no-op where production already has the column, and reversible:
migrating back to 0001 drops the index and the column. The column stays nullable, as the app
defined it; synthadmin treats NULL as "real" (see the README).
"""

from django.db import migrations, models

COMMENT = (
    "Marks synthetic/test users (true) created for QA, demos and load tests, "
    "versus real patients and therapists (false)."
)

FORWARD = [
    "ALTER TABLE public.profiles ADD COLUMN IF NOT EXISTS is_test_patient BOOLEAN DEFAULT FALSE",
    "CREATE INDEX IF NOT EXISTS idx_profiles_is_test_patient "
    "ON public.profiles (is_test_patient)",
    f"COMMENT ON COLUMN public.profiles.is_test_patient IS '{COMMENT}'",
]

BACKWARD = [
    "DROP INDEX IF EXISTS public.idx_profiles_is_test_patient",
    "ALTER TABLE public.profiles DROP COLUMN IF EXISTS is_test_patient",
]


class Migration(migrations.Migration):
    dependencies = [("profiles", "0001_supabase_baseline")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD)],
            state_operations=[
                migrations.AddField(
                    model_name="profile",
                    name="is_test_patient",
                    field=models.BooleanField(
                        db_comment=COMMENT, db_default=False, default=False, null=True
                    ),
                ),
            ],
        ),
    ]
