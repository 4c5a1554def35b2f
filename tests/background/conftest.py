"""Fixtures for background runs: worker subprocesses on the test database, and what a run wrote."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from django.db import connection

from synthadmin.models import RunChunk, SyntheticRun, SyntheticUser
from tests.dbutil import ROOT
from tests.invariants import therapist_links
from tests.ops.helpers import test_database_env

#: Short liveness thresholds, so that a dead worker is seen within a second or two.
FAST_LIVENESS = {
    "SYNTHADMIN_WORKER_HEARTBEAT_SECONDS": "0.2",
    "SYNTHADMIN_WORKER_STALE_SECONDS": "3",
    "SYNTHADMIN_REAPER_SECONDS": "0.3",
}


@pytest.fixture
def fast_liveness(settings):
    settings.SYNTHADMIN_WORKER_HEARTBEAT_SECONDS = 0.2
    settings.SYNTHADMIN_WORKER_STALE_SECONDS = 3.0
    settings.SYNTHADMIN_REAPER_SECONDS = 0.3
    return settings


class Workers:
    """``synthadmin_worker`` subprocesses on the test database; all stopped at the end."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen] = []

    def env(self, *, backend: str = "db", extra: dict[str, str] | None = None) -> dict[str, str]:
        """A worker's environment (reads the database's address: call it outside an event loop)."""
        return test_database_env({**FAST_LIVENESS, "SYNTHADMIN_TASK_BACKEND": backend, **(extra or {})})

    def start(
        self, *, backend: str = "db", extra: dict[str, str] | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        env = env or self.env(backend=backend, extra=extra)
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "synthadmin_worker", "--interval", "0.1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> list[tuple[str, str]]:
        outputs = []
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                outputs.append(process.communicate(timeout=60))
            except subprocess.TimeoutExpired:
                process.kill()
                outputs.append(process.communicate())
        return outputs


@pytest.fixture
def workers(supabase_tables_cleanup) -> Iterator[Workers]:
    pool = Workers()
    yield pool
    pool.stop_all()  # (the transactional test's flush then empties the task table too)


def wait_until(
    condition: Callable[[], bool], *, timeout: float, what: str, workers: Workers | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if workers is not None:
            for process in workers.processes:
                if process.poll() not in (None, 0, -9):
                    out, err = process.communicate()
                    raise AssertionError(f"a worker ended ({process.returncode}):\n{out}\n{err}")
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def run_ended(run_id: uuid.UUID) -> Callable[[], bool]:
    def ended() -> bool:
        return SyntheticRun.objects.get(pk=run_id).status not in (
            SyntheticRun.Status.QUEUED,
            SyntheticRun.Status.RUNNING,
        )

    return ended


def population_of(run_id: uuid.UUID) -> list[tuple]:
    """The run's people in job order: role, name, pattern, therapist's job index, check-in payloads
    in date order (ids and e-mails left out: they are per run)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.job_index, s.user_id, s.role, u.raw_user_meta_data ->> 'name',
                   s.ground_truth ->> 'pattern',
                   coalesce((SELECT json_agg(json_build_array(c.checkin_date, c.sleep_data, c.mood_data,
                                    c.symptoms_data, c.risk_routine_data, c.appetite_impulse_data,
                                    c.meds_context_data) ORDER BY c.checkin_date)::text
                             FROM public.check_ins c WHERE c.user_id = s.user_id), '[]')
              FROM synthadmin.synthadmin_syntheticuser s
              JOIN auth.users u ON u.id = s.user_id
             WHERE s.run_id = %s AND s.state = 'complete'
             ORDER BY s.job_index
            """,
            [run_id],
        )
        rows = cursor.fetchall()
    index_of = {user_id: index for index, user_id, *_ in rows}
    links = therapist_links()
    return [
        (index, role, name, pattern, index_of.get(links.get(user_id)), checkins)
        for index, user_id, role, name, pattern, checkins in rows
    ]


def assert_run_invariants(run_id: uuid.UUID) -> None:
    """No orphans, no duplicates (users, job indices, check-in dates), caseloads within one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM auth.users u LEFT JOIN public.profiles p ON p.id = u.id "
            "WHERE u.raw_app_meta_data -> 'synthadmin' ->> 'run_id' = %s AND p.id IS NULL",
            [str(run_id)],
        )
        assert cursor.fetchone()[0] == 0, "auth users of the run without a profile"
        cursor.execute(
            "SELECT count(*) FROM synthadmin.synthadmin_syntheticuser s "
            "LEFT JOIN auth.users u ON u.id = s.user_id WHERE s.run_id = %s AND s.state = 'complete' "
            "AND u.id IS NULL",
            [run_id],
        )
        assert cursor.fetchone()[0] == 0, "complete ledger entries without an auth user"
        cursor.execute(
            "SELECT count(*) FROM synthadmin.synthadmin_syntheticuser s "
            "WHERE s.run_id = %s AND s.state = 'intent'",
            [run_id],
        )
        assert cursor.fetchone()[0] == 0, "intents left open"
        cursor.execute(
            "SELECT job_index FROM synthadmin.synthadmin_syntheticuser WHERE run_id = %s AND state = 'complete' "
            "GROUP BY job_index HAVING count(*) > 1",
            [run_id],
        )
        assert cursor.fetchall() == [], "a user of the run created twice"
        cursor.execute("SELECT user_id, checkin_date FROM public.check_ins GROUP BY 1, 2 HAVING count(*) > 1")
        assert cursor.fetchall() == [], "duplicate check-in dates"
        cursor.execute(
            "SELECT count(*) FROM auth.users u WHERE u.raw_app_meta_data -> 'synthadmin' ->> 'run_id' = %s",
            [str(run_id)],
        )
        auth_users = cursor.fetchone()[0]
    complete = SyntheticUser.objects.filter(run_id=run_id, state=SyntheticUser.State.COMPLETE).count()
    assert auth_users == complete, f"{auth_users} auth users for {complete} complete users"
    caseloads = caseloads_of(run_id)
    if caseloads:
        assert max(caseloads) - min(caseloads) <= 1, f"caseloads {caseloads}"


def caseloads_of(run_id: uuid.UUID) -> list[int]:
    """Patients per therapist of the run (a therapist without patients counts 0)."""
    therapists = set(
        SyntheticUser.objects.filter(
            run_id=run_id, role="therapist", state=SyntheticUser.State.COMPLETE
        ).values_list("user_id", flat=True)
    )
    loads = dict.fromkeys(therapists, 0)
    for therapist in therapist_links().values():
        if therapist in loads:
            loads[therapist] += 1
    return list(loads.values())


def chunk_workers(run_id: uuid.UUID) -> set[str]:
    return set(
        RunChunk.objects.filter(run_id=run_id).exclude(worker_id="").values_list("worker_id", flat=True)
    )
