"""The two built-in scenarios (README, "Scenarios"): a demo clinic and a 10k load test."""

from django.db import migrations

BUILT_IN = [
    {
        "name": "demo-clinic",
        "description": (
            "A small outpatient clinic for demos and QA: 4 therapists with 10 patients each, half of "
            "them treated and mostly euthymic (ChronoRecord: 71 % euthymic days), a fifth in a bipolar I "
            "natural course and a fifth depression-dominant (depression is most of the symptomatic time, "
            "Judd 2002/2003), and one in ten rapid cycling (12-24 % of specialty-clinic patients). Half a "
            "year of daily check-ins ending today; a fixed seed, so every reset replays the same clinic."
        ),
        "therapists": 4,
        "patients": 40,
        "mix": {"stable": 50, "cycling": 20, "depressive": 20, "rapid_cycling": 10},
        "checkin_days": 180,
        "adherence": 0.85,
        "locale": "pt_BR",
        "seed": 2026,
    },
    {
        "name": "load-test-10k",
        "description": (
            "A load-test population: 10,000 patients with a year each across 100 therapists (caseloads of "
            "100), in the proportions of a treated population (mostly stable, 15 % cycling, 10 % "
            "depression-dominant, 5 % rapid cycling). No seed: each run is a fresh population."
        ),
        "therapists": 100,
        "patients": 10_000,
        "mix": {"stable": 70, "cycling": 15, "depressive": 10, "rapid_cycling": 5},
        "checkin_days": 365,
        "adherence": 0.85,
        "locale": "pt_BR",
        "seed": None,
    },
]


def add(apps, schema_editor):
    Scenario = apps.get_model("synthadmin", "Scenario")
    for values in BUILT_IN:
        Scenario.objects.update_or_create(name=values["name"], defaults={**values, "built_in": True})


def remove(apps, schema_editor):
    apps.get_model("synthadmin", "Scenario").objects.filter(built_in=True).delete()


class Migration(migrations.Migration):
    dependencies = [("synthadmin", "0004_scenarios")]

    operations = [migrations.RunPython(add, remove)]
