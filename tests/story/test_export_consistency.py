"""What an export's file holds is consistent: the runs it reads cannot be purged or given days
while it reads them, nor it start while they are (``services.run_locks``: the second comes is
refused at once, nothing changed); an export of a run in progress says it is partial."""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Callable, Iterator
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from checkins.models import CheckIn
from profiles.models import Profile
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.cancel import runs_purge
from synthadmin.services.export import checkins_export_chunks, checkins_export_write
from synthadmin.services.extend_today import checkins_extend_to_today
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.run_locks import RunBusyError, change_hold
from tests.story.conftest import generate

STARTER = Starter("os:tester")
pytestmark = pytest.mark.usefixtures("supabase_tables_cleanup")


@contextlib.contextmanager
def held_elsewhere(open_: Callable[[], object]) -> Iterator[None]:
    """``open_()`` in another thread — its own database session, as another request or command
    would be — held until the block ends, then closed."""
    ready, done = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def body() -> None:
        try:
            held = open_()
            ready.set()
            done.wait(60)
            close = getattr(held, "close", getattr(held, "release", None))
            assert close is not None, f"{held!r} has neither close() nor release()"
            close()
        except BaseException as exc:
            failed.append(exc)
            ready.set()
        finally:
            connection.close()

    thread = threading.Thread(target=body)
    thread.start()
    ready.wait(60)
    try:
        assert not failed, failed
        yield
    finally:
        done.set()
        thread.join(60)


def _export_open(run):
    def open_():
        export = checkins_export_chunks(run=run, fmt="csv", chunk_size=10)
        next(export)  # part way
        return export

    return open_


def _checkins() -> int:
    return CheckIn.objects.count()


def test_a_purge_waits_for_no_download_it_is_refused_while_the_run_is_exported():
    report = generate(patients=3, days=20)
    before = _checkins()

    with held_elsewhere(_export_open(report.run_id)):
        with pytest.raises(RunBusyError, match=f"run {report.run_id} is being exported right now"):
            runs_purge(run=report.run_id)
        with pytest.raises(CommandError, match="being exported right now") as refused:
            call_command("purge_synthetic", "--run", str(report.run_id), "--yes", stdout=StringIO())
        assert refused.value.returncode != 0
        assert synthetic_users_purge(run=report.run_id, dry_run=True).users_deleted == 3  # looks only
        assert _checkins() == before
        assert not SyntheticUser.objects.filter(state=SyntheticUser.State.PURGED).exists()

    assert runs_purge(run=report.run_id).users_deleted == 3  # the export ended: the purge goes ahead
    assert _checkins() == 0


def test_days_are_not_added_to_patients_whose_run_is_exported():
    report = generate(patients=2, days=20)
    patients = list(Profile.objects.synthetic().values_list("id", flat=True))
    before = _checkins()

    with held_elsewhere(_export_open(report.run_id)):
        with pytest.raises(RunBusyError):
            checkins_backfill(patient_ids=iter(patients), days=5, pattern="stable", started_by=STARTER)
        with pytest.raises(RunBusyError):
            checkins_extend_to_today(run=report.run_id, started_by=STARTER)
        with pytest.raises(RunBusyError):
            checkins_extend_to_today(all_patients=True, started_by=STARTER)
        assert _checkins() == before
        assert not SyntheticRun.objects.filter(kind=SyntheticRun.Kind.EXTEND).exists()

    extend, _ = checkins_backfill(patient_ids=iter(patients), days=5, pattern="stable", started_by=STARTER)
    assert extend is not None
    assert extend.checkins_created > 0 and _checkins() == before + extend.checkins_created


def test_an_export_is_refused_while_its_runs_are_purged_or_extended():
    report = generate(patients=2, days=20)
    other = generate(patients=1, days=10, seed=9)

    with held_elsewhere(lambda: change_hold(run=report.run_id)):
        with pytest.raises(RunBusyError, match="being purged or given check-in days right now"):
            checkins_export_chunks(run=report.run_id, fmt="csv")
        with pytest.raises(CommandError, match=f"--run: run {report.run_id} is being purged"):
            call_command(
                "export_synthetic", "--run", str(report.run_id), stdout=StringIO(), stderr=StringIO()
            )
        with pytest.raises(CommandError, match="--all: synthetic patients are being purged"):
            call_command("export_synthetic", "--all", stdout=StringIO(), stderr=StringIO())
        out = io.StringIO()  # another run: not held
        assert checkins_export_write(run=other.run_id, fmt="csv", out=out) == other.checkins_created


def test_an_extend_run_export_holds_the_runs_of_its_patients():
    report = generate(patients=2, days=20)
    patients = list(Profile.objects.synthetic().values_list("id", flat=True))
    extend, _ = checkins_backfill(patient_ids=patients, days=5, pattern="stable", started_by=STARTER)
    assert extend is not None

    with held_elsewhere(_export_open(extend.run_id)):
        with pytest.raises(RunBusyError):
            runs_purge(run=report.run_id)  # would take the extend run's days along
        with pytest.raises(RunBusyError):
            runs_purge(run=extend.run_id)
    with held_elsewhere(_export_open(None)):  # every run
        with pytest.raises(RunBusyError, match="every run is being exported"):
            synthetic_users_purge(user_ids=patients[:1])


def test_exports_share_a_run_and_so_do_changes():
    report = generate(patients=2, days=20)

    with held_elsewhere(_export_open(report.run_id)):
        out = io.StringIO()
        assert checkins_export_write(run=report.run_id, fmt="csv", out=out) == report.checkins_created
    with held_elsewhere(lambda: change_hold(run=report.run_id)):
        change_hold(run=report.run_id).release()


def test_an_export_of_a_run_in_progress_says_it_is_partial(client):
    report = generate(patients=1, days=20)
    SyntheticRun.objects.filter(pk=report.run_id).update(status=SyntheticRun.Status.RUNNING)

    with checkins_export_chunks(run=report.run_id, fmt="csv") as export:
        assert export.partial == f"run {report.run_id} is still running: the rows written so far"
    err = StringIO()
    call_command("export_synthetic", "--run", str(report.run_id), stdout=StringIO(), stderr=err)
    assert err.getvalue().startswith(f"Partial export: run {report.run_id} is still running")
    assert "check-ins (partial) to standard output" in err.getvalue()

    client.force_login(User.objects.create_superuser("boss", "boss@example.org", "x"))
    response = client.get(reverse("admin:synthadmin_syntheticrun_download", args=[report.run_id, "csv"]))
    assert response["X-Synthadmin-Export-Partial"] == export.partial
    assert response["Content-Disposition"].endswith(f'-{report.run_id.hex[:8]}-partial.csv"')
    b"".join(response.streaming_content)
    SyntheticRun.objects.filter(pk=report.run_id).update(status=SyntheticRun.Status.SUCCEEDED)
    with checkins_export_chunks(run=None, fmt="csv") as export:
        assert export.partial == ""


def test_the_admin_says_who_holds_the_run(client):
    report = generate(patients=1, days=20)
    client.force_login(User.objects.create_superuser("boss", "boss@example.org", "x"))
    run_page = reverse("admin:synthadmin_syntheticrun_change", args=[report.run_id])

    with held_elsewhere(lambda: change_hold(run=report.run_id)):
        response = client.get(
            reverse("admin:synthadmin_syntheticrun_download", args=[report.run_id, "csv"]), follow=True
        )
        assert response.redirect_chain[-1][0] == run_page
        assert "Nothing exported: run" in response.content.decode()
    patient = Profile.objects.synthetic().get()
    with held_elsewhere(_export_open(report.run_id)):
        response = client.post(
            reverse("admin:synthadmin_syntheticrun_purge", args=[report.run_id]), follow=True
        )
        assert "Nothing purged: run" in response.content.decode()
        assert "being exported right now" in response.content.decode()
        response = client.post(
            reverse("admin:profiles_profile_changelist"),
            {"action": "extend_to_today", "post": "yes", "_selected_action": [str(patient.pk)]},
            follow=True,
        )
        assert response.status_code == 200
        assert "Nothing added: run" in response.content.decode()
    assert _checkins() == report.checkins_created
