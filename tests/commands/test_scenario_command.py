"""``manage.py scenario``: list, export to a file, import it back, run, reset."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from synthadmin.models import Scenario, SyntheticRun
from synthadmin.services.scenarios import scenarios_builtin_ensure
from tests.invariants import synthetic_counts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def built_in_scenarios():
    """A flushed test database has lost what the data migration put there: put it back."""
    scenarios_builtin_ensure()


def _call(*args: str) -> str:
    out = StringIO()
    call_command("scenario", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_list_export_import_run_reset(tmp_path, supabase_tables_cleanup):
    assert "demo-clinic: 4 therapists, 40 patients" in _call("list")
    path = tmp_path / "demo.toml"
    _call("export", "demo-clinic", "--output", str(path))
    text = (
        path.read_text()
        .replace('name = "demo-clinic"', 'name = "tiny"')
        .replace("patients = 40", "patients = 10")
    )
    text = text.replace("therapists = 4", "therapists = 2").replace("checkin_days = 180", "checkin_days = 5")
    (tmp_path / "tiny.toml").write_text(text)
    assert "scenario tiny saved" in _call("import", str(tmp_path / "tiny.toml"))
    with pytest.raises(CommandError, match="exists"):
        _call("import", str(tmp_path / "tiny.toml"))
    with pytest.raises(CommandError, match="already exists"):
        _call("export", "tiny", "--output", str(path))  # never overwrites

    out = _call("run", "tiny")
    assert "succeeded" in out and " stable " in out and "│ 5 " in out
    assert synthetic_counts()["patients"] == 10
    with pytest.raises(CommandError, match="--yes"):
        _call("reset", "tiny")
    assert "purged 12 user(s) of 1 earlier run(s)" in _call("reset", "tiny", "--yes")
    scenario = Scenario.objects.get(name="tiny")
    assert SyntheticRun.objects.filter(scenario=scenario, purged_at__isnull=True).count() == 1
    assert synthetic_counts()["patients"] == 10
    with pytest.raises(CommandError, match="no scenario named 'nope'"):
        _call("run", "nope")


def test_generate_synthetic_runs_a_scenario_and_options_override_it(supabase_tables_cleanup):
    from synthadmin.services.scenarios import scenario_import

    scenario_import(
        '[scenario]\nname = "tiny2"\ntherapists = 1\npatients = 4\ncheckin_days = 20\nseed = 3\n'
        "[scenario.mix]\nstable = 3\nmanic = 1\n"
    )
    out = StringIO()
    call_command("generate_synthetic", "--scenario", "tiny2", "--checkins", "2", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["patients_by_pattern"] == {"manic": 1, "stable": 3}
    assert report["parameters"]["checkin_days"] == 2 and report["seed"] == 3
    scenario = SyntheticRun.objects.get(pk=report["run_id"]).scenario
    assert scenario is not None and scenario.name == "tiny2"
    with pytest.raises(CommandError, match="--scenario: no scenario named 'nope'"):
        call_command("generate_synthetic", "--scenario", "nope", stdout=StringIO())


def test_generate_synthetic_mix_option(supabase_tables_cleanup):
    out = StringIO()
    call_command(
        "generate_synthetic", "--patients", "4", "--mix", "stable=50,cycling=50", "--json", stdout=out
    )
    assert json.loads(out.getvalue())["patients_by_pattern"] == {"cycling": 2, "stable": 2}
    with pytest.raises(CommandError, match="--mix: mix weights add up to 90"):
        call_command(
            "generate_synthetic", "--patients", "4", "--mix", "stable=50,cycling=40", stdout=StringIO()
        )


def test_verbosity_after_the_subcommand_as_every_command_takes_it():
    """``scenario list -v 0``, like every other command with ``-v 0`` last."""
    out = StringIO()
    call_command("scenario", "list", "-v", "0", stdout=out)
    assert "demo-clinic" in out.getvalue()
