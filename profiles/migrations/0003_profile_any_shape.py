"""State only: the model keeps the columns every supported shape has (``docs/target-schema.md``).

The live shape links therapists through ``public.therapist_patients`` and has a nullable
``email``; ``therapist_id`` exists only in the early shape. Nothing in the database changes.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("profiles", "0002_is_test_patient")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(model_name="profile", name="therapist"),
                migrations.AlterField(
                    model_name="profile", name="email", field=models.TextField(blank=True, null=True)
                ),
                migrations.AlterField(
                    model_name="profile",
                    name="role",
                    field=models.TextField(
                        choices=[("patient", "Patient"), ("therapist", "Therapist"), ("admin", "Admin")]
                    ),
                ),
            ],
        ),
    ]
