"""``list_runs`` shows every run with what it is now: a run whose process died is interrupted,
a purged run is purged, a run whose process is alive is still running."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.ledger import Starter, run_start

pytestmark = pytest.mark.django_db


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _runs() -> dict[str, dict]:
    out = StringIO()
    call_command("list_runs", "--json", stdout=out)
    return {run["id"]: run for run in json.loads(out.getvalue())}


def test_dead_owner_is_interrupted_live_owner_running_purged_shown_purged():
    alive = run_start(
        kind="generate",
        started_by=Starter("os:t", source="api"),
        parameters={},
        seed=1,
        auth_backend="local",
    )
    dead = SyntheticRun.objects.create(
        started_by="os:t",
        seed=2,
        auth_backend="local",
        owner_host=socket.gethostname(),
        owner_pid=_dead_pid(),
        owner_started_at=timezone.now(),
    )
    for index, role in enumerate(["patient", "patient", "therapist"]):
        SyntheticUser.objects.create(
            run=dead,
            user_id=uuid.uuid4(),
            email=f"u{index}@example.com",
            role=role,
            state="complete",
            checkins=7,
        )
    SyntheticUser.objects.create(run=dead, user_id=uuid.uuid4(), email="x@example.com", role="patient")
    purged = SyntheticRun.objects.create(
        started_by="os:t", seed=3, auth_backend="local", status="succeeded", purged_at=timezone.now()
    )
    runs = _runs()
    assert runs[str(alive.id)]["status"] == "running"
    assert runs[str(dead.id)]["status"] == "interrupted"
    assert runs[str(purged.id)]["status"] == "purged"
    dead.refresh_from_db()
    assert dead.status == "interrupted" and dead.finished_at is not None
    # What it wrote, from its ledger (the process that counted died with it).
    assert (dead.patients_created, dead.therapists_created, dead.checkins_created) == (2, 1, 21)
    assert alive.owner_pid == os.getpid()


def test_a_pid_reused_by_a_later_process_is_not_the_owner():
    run = SyntheticRun.objects.create(
        started_by="os:t",
        seed=2,
        auth_backend="local",
        owner_host=socket.gethostname(),
        owner_pid=os.getpid(),
        owner_started_at=timezone.now() - dt.timedelta(days=1),  # this pid's process started later
    )
    assert _runs()[str(run.id)]["status"] == "interrupted"


def test_table_output_and_bad_options():
    SyntheticRun.objects.create(started_by="os:t", seed=2, auth_backend="local", status="succeeded")
    out = StringIO()
    call_command("list_runs", stdout=out)
    assert "succeeded" in out.getvalue() and "Synthetic runs" in out.getvalue()
    with pytest.raises(CommandError, match="--status: unknown status"):
        call_command("list_runs", "--status", "zigzag")
    with pytest.raises(CommandError, match="--limit"):
        call_command("list_runs", "--limit", "٣")
