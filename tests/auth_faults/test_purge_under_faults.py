"""Purge under faults: with Auth down from the start it refuses in one line (exit 1) before
touching anything; with Auth lost part way it stops after ``UNAVAILABLE_STREAK_LIMIT`` users (not
after all of them) with one line (exit 3); a delete that a foreign key without cascade
refuses — a table that appears after purge's catalog check, so that purge meets it only at
delete time — is reported ``blocked`` (exit 2, the user named) and everyone else is deleted."""

from __future__ import annotations

import time
from io import StringIO

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.management import exitcodes
from synthadmin.models import SyntheticUser
from synthadmin.services import purge
from synthadmin.services.cascade import deletion_holds
from synthadmin.services.purge import UNAVAILABLE_STREAK_LIMIT, synthetic_users_purge
from synthadmin.services.reports import NullProgress
from tests.auth.conftest import test_database_conninfo
from tests.auth_faults.conftest import (
    command_env,
    dead_url,
    error_lines,
    generate,
    ours_in_auth,
    q,
    run_command,
)
from tests.invariants import assert_invariants, synthetic_counts
from tests.support.gotrue import BLOCKING_TABLE, block_delete, unblock_deletes

USERS = 12


@pytest.fixture
def local_users(real_population) -> int:
    """``USERS`` complete synthetic patients, made through the local backend."""
    report = generate(None, patients=USERS)
    assert report.status == "succeeded"
    return USERS


def test_purge_with_auth_lost_part_way_stops_after_a_few_users(
    real_population, local_users, monkeypatch, fast_retries
):
    # Auth answered the preflight, then went away: purge stops after a few users, as before.
    monkeypatch.setattr(purge, "auth_preflight", lambda **_: None)
    began = time.monotonic()
    with SupabaseAuthGateway(url=dead_url(), key="not-a-real-key") as gateway:
        report = synthetic_users_purge(gateway=gateway)
    took = time.monotonic() - began

    assert "unavailable for 3 users in a row" in report.stopped_by and "\n" not in report.stopped_by
    tried = [e for e in report.errors if "not attempted" not in e]
    # The streak is counted in the worker as its call ends: after the one that reaches it, only
    # the calls the other workers already had in flight, whatever the scheduling.
    in_flight = settings.SYNTHADMIN_AUTH_CONCURRENCY - 1
    assert UNAVAILABLE_STREAK_LIMIT <= len(tried) <= UNAVAILABLE_STREAK_LIMIT + in_flight, len(tried)
    assert len(report.errors) == USERS and report.users_deleted == 0
    assert took < 20, took
    assert synthetic_counts()["patients"] == USERS  # nothing half-deleted
    assert set(SyntheticUser.objects.values_list("state", flat=True)) == {"complete"}
    assert_invariants(real_population)


class _SlowProgress(NullProgress):
    """A listener that takes its time (a terminal that draws slowly, a loaded machine): the
    thread that hears the results lags far behind the workers."""

    def advance(self, name: str, amount: int = 1) -> None:
        time.sleep(0.2)


def test_the_streak_stops_the_workers_however_far_behind_the_results_are_heard(
    real_population, local_users, monkeypatch, fast_retries
):
    """Whatever the thread hearing the results is doing, no worker starts another user once three
    in a row were unavailable: only the calls already in flight follow (when the streak was
    counted where the results are heard, the workers tried every user meanwhile)."""
    monkeypatch.setattr(purge, "auth_preflight", lambda **_: None)
    with SupabaseAuthGateway(url=dead_url(), key="not-a-real-key") as gateway:
        report = synthetic_users_purge(gateway=gateway, progress=_SlowProgress())

    tried = [e for e in report.errors if "not attempted" not in e]
    in_flight = settings.SYNTHADMIN_AUTH_CONCURRENCY - 1
    assert UNAVAILABLE_STREAK_LIMIT <= len(tried) <= UNAVAILABLE_STREAK_LIMIT + in_flight < USERS, len(tried)
    assert "unavailable for 3 users in a row" in report.stopped_by
    assert synthetic_counts()["patients"] == USERS


def test_purge_command_with_auth_down_from_the_start_one_line_exit_1(real_population, local_users):
    url = dead_url()
    result, _ = run_command("purge_synthetic", "--all", "--yes", env=command_env(url=url))

    assert result.returncode == exitcodes.INVALID, result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith(f"CommandError: cannot reach Supabase Auth at {url} (connection refused)")
    assert set(SyntheticUser.objects.values_list("state", flat=True)) == {"complete"}
    assert "Traceback" not in result.stderr
    assert synthetic_counts()["patients"] == USERS
    assert_invariants(real_population)


@pytest.fixture
def fk_appears_after_the_catalog_check(monkeypatch, supabase_tables_cleanup):
    """After purge has read the catalog (and found nothing to hold back), a table referencing
    ``auth.users`` without cascade, with a row for one user, appears — from another session."""
    real_holds = deletion_holds  # what purge calls (it imports it from cascade)
    blocked: list = []

    def holds_then_block(target, user_ids):
        found = real_holds(target, user_ids)
        blocked.append(sorted(user_ids)[0])
        with psycopg.connect(test_database_conninfo(), autocommit=True) as conn, conn.cursor() as cursor:
            block_delete(cursor, blocked[0])
        return found

    monkeypatch.setattr(purge, "deletion_holds", holds_then_block)
    yield blocked
    with psycopg.connect(test_database_conninfo(), autocommit=True) as conn, conn.cursor() as cursor:
        unblock_deletes(cursor)


def test_fk_blocked_delete_is_reported_blocked_and_the_others_deleted(
    real_population, auth_server, supabase_gateway, settings, fk_appears_after_the_catalog_check
):
    made = generate(supabase_gateway, patients=4)
    assert made.status == "succeeded"
    settings.SYNTHADMIN_AUTH_BACKEND = "supabase"
    settings.SUPABASE_URL = auth_server.url
    settings.SUPABASE_SERVICE_ROLE_KEY = auth_server.service_role_key
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError) as raised:
        call_command("purge_synthetic", "--all", "--yes", stdout=out, stderr=err)

    (blocked_id,) = fk_appears_after_the_catalog_check
    (email,) = q("SELECT email FROM auth.users WHERE id = %s", [blocked_id])[0]
    assert raised.value.returncode == exitcodes.PARTIAL
    assert email in str(raised.value) and "left in place" in str(raised.value)
    assert "blocked" in out.getvalue() and email in out.getvalue()
    assert "foreign key" in out.getvalue()
    assert auth_server.call_count("delete") == 4  # one call each: a refusal is not retried
    assert ours_in_auth() == 1 and synthetic_counts()["patients"] == 1
    assert q(f"SELECT count(*) FROM {BLOCKING_TABLE}") == [(1,)]
    assert SyntheticUser.objects.get(user_id=blocked_id).state == "complete"
    assert SyntheticUser.objects.filter(state="purged").count() == 3
    with psycopg.connect(test_database_conninfo(), autocommit=True) as conn, conn.cursor() as cursor:
        unblock_deletes(cursor)  # the test's own table goes before comparing the real rows
    assert_invariants(real_population)
