"""The two built-in scenarios (README, "Scenarios"): a demo clinic and a 10k load test."""

from django.db import migrations


from synthadmin.services.scenarios import BUILT_IN


def add(apps, schema_editor):
    Scenario = apps.get_model("synthadmin", "Scenario")
    for values in BUILT_IN:
        Scenario.objects.update_or_create(name=values["name"], defaults={**values, "built_in": True})


def remove(apps, schema_editor):
    apps.get_model("synthadmin", "Scenario").objects.filter(built_in=True).delete()


class Migration(migrations.Migration):
    dependencies = [("synthadmin", "0004_scenarios")]

    operations = [migrations.RunPython(add, remove)]
