"""Scenarios: a file round-trips, a reset leaves exactly one live run and none of the old rows,
and a fixed seed replays the same population (ids excluded)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import Scenario, SyntheticRun
from synthadmin.services.ledger import Starter
from synthadmin.services.scenarios import (
    scenario_export,
    scenario_import,
    scenario_reset,
    scenario_run,
    scenarios_builtin_ensure,
)
from tests.invariants import assert_invariants, synthetic_counts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def built_in_scenarios():
    """A flushed test database has lost what the data migration put there: put it back."""
    scenarios_builtin_ensure()


def _small(**overrides) -> Scenario:
    values = {
        "name": "small-clinic", "therapists": 2, "patients": 6, "mix": {"stable": 50, "cycling": 50},
        "checkin_days": 20, "seed": 77, "end_date": dt.date(2026, 6, 30),
    }  # fmt: skip
    values.update(overrides)
    return Scenario.objects.create(**values)


def _population() -> list[tuple]:
    """Every synthetic row that is not an id: names, roles, e-mails minus the run tag, histories."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.role, p.username, regexp_replace(p.email, '\\.[0-9a-f]{8}\\.', '.'), "
            " c.checkin_date, c.mood_data::text, c.sleep_data::text "
            "FROM public.profiles p LEFT JOIN public.check_ins c ON c.user_id = p.id "
            "WHERE p.is_test_patient ORDER BY 1, 2, 3, 4"
        )
        return cursor.fetchall()


def test_the_migration_installs_the_built_in_scenarios_and_they_could_run():
    import importlib

    from django.apps import apps

    Scenario.objects.all().delete()  # what the autouse fixture put back: prove the migration does it
    migration = importlib.import_module("synthadmin.migrations.0005_builtin_scenarios")
    migration.add(apps, None)
    names = set(Scenario.objects.filter(built_in=True).values_list("name", flat=True))
    assert names == {"demo-clinic", "load-test-10k"}
    for scenario in Scenario.objects.filter(built_in=True):
        assert scenario_import(scenario_export(scenario), replace=True).built_in


def test_a_scenario_file_round_trips():
    scenario = _small(description="two therapists, half cycling")
    text = scenario_export(scenario)
    assert 'name = "small-clinic"' in text and 'mix = "stable=50,cycling=50"' in text  # one mix syntax
    Scenario.objects.filter(pk=scenario.pk).delete()
    again = scenario_import(text)
    assert scenario_export(again) == text
    with pytest.raises(InvalidRequestError, match="exists"):
        scenario_import(text)
    with pytest.raises(InvalidRequestError, match="unknown key"):
        scenario_import(text.replace("patients = 6", "patients = 6\npatinets = 7"))
    with pytest.raises(InvalidRequestError, match="add up to"):
        scenario_import(text.replace("stable=50", "stable=40"), replace=True)
    # A file written before, with the mix as a table, is read through the same parser.
    table = text.replace('mix = "stable=50,cycling=50"\n', "[scenario.mix]\nstable = 50\ncycling = 50\n")
    assert scenario_export(scenario_import(table, replace=True)) == text


def test_reset_leaves_one_live_run_and_replays_the_same_population(real_population):
    scenario = _small()
    first = scenario_run(scenario=scenario, started_by=Starter("os:tester"))
    assert first.status == "succeeded"
    before = _population()
    counts = synthetic_counts()

    reset = scenario_reset(scenario=scenario, started_by=Starter("os:tester"))

    assert reset.run is not None and reset.run.status == "succeeded"
    assert reset.purge.users_deleted == 8 and str(first.run_id) in reset.purge.runs
    live = SyntheticRun.objects.filter(scenario=scenario, purged_at__isnull=True)
    assert list(live.values_list("id", flat=True)) == [reset.run.run_id]
    assert synthetic_counts() == counts  # the old rows are gone, the same number made again
    assert _population() == before  # same seed, same population
    assert_invariants(real_population)


@pytest.mark.parametrize("mix", ["[1, 2]", '"stable"', '[["stable", 100]]'])
def test_a_mix_that_is_not_a_table_is_refused_in_one_line(mix):
    text = f'[scenario]\nname = "odd"\npatients = 2\nmix = {mix}\n'
    with pytest.raises(InvalidRequestError, match="write the mix as pattern=weight"):
        scenario_import(text)
    assert not Scenario.objects.filter(name="odd").exists()


def test_a_stored_unusable_mix_does_not_break_the_lists():
    from synthadmin.services.scenarios import scenario_mix_text

    broken = _small(name="broken", mix=[["stable", 100]])
    assert "unusable mix" in scenario_mix_text(broken)
    with pytest.raises(InvalidRequestError, match="write the mix as pattern=weight"):
        scenario_run(scenario=broken, started_by=Starter("os:tester"))
