"""``--dry-run`` exits with the code the real command would: ``purge_synthetic --dry-run`` exits 2
when the purge would leave users alone (it exited 0, the purge 2), 0 when it would delete all;
``generate_synthetic --dry-run`` (also with ``--scenario``) exits 1 where the run would refuse
before writing — Auth unreachable, a credentials file in the way — and 0 where it would start.
Each case runs the dry run, then the real command, and compares their exit codes."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from profiles.models import Profile
from synthadmin.management import exitcodes
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.auth_faults.conftest import command_env, dead_url, run_command
from tests.invariants import synthetic_counts
from tests.realdata import insert_real_user
from tests.shapes import shape_install

pytestmark = pytest.mark.django_db(transaction=True)


def _exit_code(*args: str) -> tuple[int, str]:
    """``call_command``'s exit code (0, or the CommandError's) and its one line."""
    try:
        call_command(*args, stdout=StringIO(), stderr=StringIO())
    except CommandError as exc:
        return exc.returncode, str(exc)
    return exitcodes.OK, ""


@pytest.fixture
def live(supabase_tables_cleanup):
    shape_install("live")
    yield
    shape_install("baseline")


def _run(patients: int = 2, therapists: int = 1) -> None:
    population_generate(
        request=GenerationRequest(
            patients=patients, therapists=therapists, checkin_days=3, seed=8, end_date=dt.date(2026, 6, 30)
        ),
        started_by=Starter("os:tester"),
    )


def test_purge_dry_run_exits_2_where_the_purge_would_leave_users_alone(live):
    _run()
    therapist = Profile.objects.synthetic().get(role="therapist")
    insert_real_user(therapist_id=therapist.id, email="real.patient@example.org")  # holds the therapist

    dry_code, dry_line = _exit_code("purge_synthetic", "--all", "--dry-run")
    assert synthetic_counts()["therapists"] == 1 and synthetic_counts()["patients"] == 2  # nothing deleted
    assert dry_code == exitcodes.PARTIAL
    assert (
        dry_line.startswith("dry run: 1 synthetic user(s) would be left in place")
        and therapist.email is not None
        and therapist.email in dry_line
    )
    assert "\n" not in dry_line

    real_code, _line = _exit_code("purge_synthetic", "--all", "--yes")
    assert real_code == dry_code == 2
    assert synthetic_counts()["patients"] == 0 and synthetic_counts()["therapists"] == 1


def test_purge_dry_run_exits_0_where_the_purge_deletes_everyone(live):
    _run()
    assert _exit_code("purge_synthetic", "--all", "--dry-run") == (exitcodes.OK, "")
    assert _exit_code("purge_synthetic", "--all", "--yes") == (exitcodes.OK, "")
    assert synthetic_counts()["auth_users"] == 0


def test_generate_dry_run_exits_1_where_the_run_would_refuse_a_credentials_file(
    supabase_tables_cleanup, tmp_path
):
    path = tmp_path / "logins.csv"
    path.write_text("email,password\nsomeone@example.com,earlier\n")
    args = ("generate_synthetic", "--patients", "1", "--seed", "2", "--credentials-out", str(path))
    dry_code, dry_line = _exit_code(*args, "--dry-run")
    real_code, real_line = _exit_code(*args)
    assert dry_code == real_code == exitcodes.INVALID
    assert dry_line == real_line and "already exists" in dry_line
    assert path.read_text().endswith("earlier\n") and synthetic_counts()["auth_users"] == 0
    # With --force the run would replace it: the dry run says go (and replaces nothing).
    assert _exit_code(*args, "--force", "--dry-run") == (exitcodes.OK, "")
    assert path.read_text().endswith("earlier\n")


@pytest.mark.parametrize("scenario", [False, True], ids=["options", "scenario"])
def test_generate_dry_run_exits_1_where_auth_is_unreachable(supabase_tables_cleanup, scenario):
    from synthadmin.services.scenarios import scenarios_builtin_ensure

    scenarios_builtin_ensure()
    env = command_env(url=dead_url())
    what = ["--scenario", "demo-clinic"] if scenario else ["--patients", "1"]
    dry, _seconds = run_command("generate_synthetic", *what, "--dry-run", env=env)
    real, _seconds = run_command("generate_synthetic", *what, env=env)
    assert dry.returncode == real.returncode == exitcodes.INVALID
    assert dry.stderr.strip().splitlines()[-1] == real.stderr.strip().splitlines()[-1]
    assert "cannot reach Supabase Auth" in dry.stderr and "Traceback" not in dry.stderr
    assert synthetic_counts()["auth_users"] == 0


def test_generate_dry_run_exits_0_where_the_run_would_start(supabase_tables_cleanup):
    assert _exit_code("generate_synthetic", "--patients", "2", "--seed", "2", "--dry-run") == (
        exitcodes.OK,
        "",
    )
    assert synthetic_counts()["auth_users"] == 0
    assert _exit_code("generate_synthetic", "--patients", "2", "--seed", "2") == (exitcodes.OK, "")
