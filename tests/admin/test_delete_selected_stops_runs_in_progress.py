"""**Delete selected synthetic users** while another process writes for them (a real
``extend_synthetic --days N`` subprocess adding days to their run's patients): the deletion, in
the request (the Django test client) or as its background task, asks that addition to stop
through the database — as ``purge_synthetic --run`` does (``cancel.runs_purge``, one rule for
every purge) — waits for it, then deletes the selected users. The extending process stops
between batches with "stopped: purged by staff:…" (exit 3), its run ``aborted`` with exact
counts; nothing of the selected users is left, the others keep what they had and what the
addition gave them before it stopped, no orphans, real rows byte-identical. A frozen owner gets
one line and nothing is deleted; the same deletion, once it has stopped, finishes. A generation
still going inline (a real ``generate_synthetic`` subprocess) is stopped the same way when some
of its users are selected. And ``purge_synthetic --all`` stops an addition the same way.

The process is held after its first batch (a pause failpoint), so the deletion always meets it in
progress and it stops exactly there: one whole batch written, whatever else the machine runs."""

from __future__ import annotations

import subprocess

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.db import connection
from django.db.models import Sum
from django.urls import reverse

from synthadmin.admin.tasks import delete_users_task
from synthadmin.failpoints import ADDITIONS_AFTER_BATCH, ENV, GENERATE_AFTER_BATCH, PAUSE
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from tests.dbutil import manage
from tests.invariants import assert_invariants
from tests.ops.helpers import finish, frozen, run_ended_days_ago, start_manage, test_database_env, wait_for

CHANGELIST = "admin:profiles_profile_changelist"
#: Three batches: the process is held after the first, the deletion arrives, the others never start.
PATIENTS = 12
BATCH = 4
#: Days each patient gets.
DAYS = 5
#: Who the staff member deleting is, as the stopped process names them.
BY = "staff:operator"
#: One batch at a time, so that the one held is the only one written.
GENERATE = ("generate_synthetic", "--patients", str(PATIENTS), "--checkins", "5", "--concurrency", "1")


def _held_after_first_batch(point: str) -> dict[str, str]:
    """Batches of ``BATCH``; the process held after its first one until it is asked to stop."""
    return {"SYNTHADMIN_BATCH_USERS": str(BATCH), ENV: f"{point}:{PAUSE}"}


def _count(query: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def _left_of(ids: list[str]) -> dict[str, int]:
    """What is left of these users: Auth users, profiles, check-ins, live ledger entries."""
    return {
        "auth": _count("SELECT count(*) FROM auth.users WHERE id::text = ANY(%s)", [ids]),
        "profiles": _count("SELECT count(*) FROM public.profiles WHERE id::text = ANY(%s)", [ids]),
        "checkins": _count("SELECT count(*) FROM public.check_ins WHERE user_id::text = ANY(%s)", [ids]),
        "live entries": SyntheticUser.objects.filter(
            user_id__in=ids, state__in=["complete", "intent"]
        ).count(),
    }


@pytest.fixture
def generated(real_population) -> SyntheticRun:
    """A generate run of ``PATIENTS`` patients whose histories ended ``DAYS`` days ago."""
    return run_ended_days_ago(PATIENTS, DAYS, checkin_days=3, seed=21)


def _patients(run: SyntheticRun) -> list[str]:
    return sorted(str(u) for u in SyntheticUser.objects.filter(run=run).values_list("user_id", flat=True))


def _extending(run: SyntheticRun) -> tuple[subprocess.Popen, SyntheticRun]:
    """``extend_synthetic --days`` for ``run``'s patients in a subprocess, once its first batch
    is committed and it is held there (in progress); the process and its ``extend`` run."""
    env = test_database_env(_held_after_first_batch(ADDITIONS_AFTER_BATCH))
    process = start_manage("extend_synthetic", "--days", str(DAYS), "--run", str(run.pk), env=env)
    additions = CheckinAddition.objects.filter(run__kind=SyntheticRun.Kind.EXTEND)
    wait_for(lambda: additions.count() >= BATCH, process, timeout=60)
    return process, SyntheticRun.objects.get(kind=SyntheticRun.Kind.EXTEND)


def _delete_through_the_admin(client, selected: list[str]) -> list[str]:
    """Post "Delete selected synthetic users" for ``selected``, confirmed; the messages shown."""
    response = client.post(
        reverse(CHANGELIST),
        {"action": "delete_synthetic_users", "_selected_action": selected, "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def _assert_stopped_by_the_purge(
    process: subprocess.Popen, err: str, extension: SyntheticRun, by: str
) -> None:
    """The extending process ended with one line and exit 3; its run is aborted part way, with
    the counts its records hold."""
    assert process.returncode == 3, err
    (line,) = [line for line in err.splitlines() if line.startswith("CommandError:")]
    assert line.startswith(f"CommandError: stopped: purged by {by}"), line
    extension.refresh_from_db()
    assert extension.status == SyntheticRun.Status.ABORTED, extension.error_summary
    assert extension.error_summary.startswith(f"cancelled by {by}")
    assert extension.cancel_requested_by.startswith(by) and extension.cancel_for_purge
    records = CheckinAddition.objects.filter(run=extension)
    assert records.count() == BATCH < PATIENTS  # stopped part way, where it was held: one whole batch
    assert extension.checkins_created == records.aggregate(n=Sum("checkins"))["n"]
    reached = f"{records.count()} of {PATIENTS} patients got their days whole"
    assert f"{reached} ({extension.checkins_created:,} check-ins)" in line


def _assert_the_rest_kept_what_they_had(extension: SyntheticRun, kept: list[str]) -> None:
    """The patients not selected are complete, with every day the addition gave them before it
    stopped (its records of them still open); the addition is not purged (it has days left)."""
    assert _left_of(kept)["profiles"] == len(kept)
    assert SyntheticUser.objects.filter(user_id__in=kept, state="complete").count() == len(kept)
    theirs = CheckinAddition.objects.filter(run=extension, user_id__in=kept)
    assert theirs.exists() and not theirs.filter(removed_at__isnull=False).exists()
    extension.refresh_from_db()
    assert extension.purged_at is None


@pytest.mark.parametrize("where", ["in the request", "as its background task"])
def test_deleting_selected_users_stops_the_addition_of_days_to_them_first(
    client, staff_all, real_population, generated, where
):
    patients = _patients(generated)
    client.force_login(staff_all)
    extending, extension = _extending(generated)
    try:
        # Half of those the addition reached and half of the others.
        reached = sorted(str(u) for u in CheckinAddition.objects.values_list("user_id", flat=True))
        rest = [p for p in patients if p not in reached]
        selected, kept = reached[::2] + rest[::2], reached[1::2] + rest[1::2]
        if where == "in the request":
            shown = _delete_through_the_admin(client, selected)
        else:  # what a worker runs for a large selection
            report = delete_users_task.call(selected, staff_all.pk, BY)
            shown = [f"Deleted {report['users_deleted']} synthetic users"]
        _out, err = finish(extending)
    finally:
        if extending.poll() is None:
            extending.kill()

    assert any(m.startswith(f"Deleted {len(selected)} synthetic users") for m in shown), shown
    _assert_stopped_by_the_purge(extending, err, extension, BY)
    assert _left_of(selected) == {"auth": 0, "profiles": 0, "checkins": 0, "live entries": 0}
    assert set(SyntheticUser.objects.filter(user_id__in=selected).values_list("state", flat=True)) == {
        "purged"
    }
    # The selected users' records of the addition are closed: their days went with them.
    assert not CheckinAddition.objects.filter(
        run=extension, user_id__in=selected, removed_at__isnull=True
    ).exists()
    _assert_the_rest_kept_what_they_had(extension, kept)
    generated.refresh_from_db()
    assert generated.purged_at is None  # half of its users are still there
    logged = set(LogEntry.objects.filter(action_flag=DELETION).values_list("object_id", flat=True))
    assert logged == set(selected)
    assert_invariants(real_population)  # no orphans, every count its rows, real rows untouched


def test_a_frozen_addition_gets_one_line_nothing_deleted_and_the_same_deletion_finishes_later(
    client, staff_all, real_population, generated, settings
):
    patients = _patients(generated)
    client.force_login(staff_all)
    settings.SYNTHADMIN_PURGE_CANCEL_WAIT_SECONDS = 2
    extending, extension = _extending(generated)
    try:
        with frozen(extending):  # alive, but it cannot stop
            refused = _delete_through_the_admin(client, patients)
            left = _left_of(patients)
        _out, err = finish(extending)
    finally:
        if extending.poll() is None:
            extending.kill()

    (message,) = refused
    assert message.startswith(f"Nothing deleted: run {extension.pk} is still stopping"), message
    assert f"its process ({extension.owner_host} pid {extension.owner_pid})" in message
    assert "purge it again in a moment" in message
    assert left["profiles"] == left["live entries"] == PATIENTS and left["auth"] == PATIENTS
    _assert_stopped_by_the_purge(extending, err, extension, BY)  # it saw the request once thawed

    again = _delete_through_the_admin(client, patients)

    assert any(m.startswith(f"Deleted {PATIENTS} synthetic users") for m in again), again
    assert _left_of(patients) == {"auth": 0, "profiles": 0, "checkins": 0, "live entries": 0}
    generated.refresh_from_db()
    extension.refresh_from_db()
    assert generated.purged_at is not None and extension.purged_at is not None
    assert_invariants(real_population)


def test_deleting_some_users_of_a_generation_in_progress_stops_it_first(client, staff_all, real_population):
    generating = start_manage(*GENERATE, env=test_database_env(_held_after_first_batch(GENERATE_AFTER_BATCH)))
    try:
        complete = SyntheticUser.objects.filter(state="complete")
        wait_for(lambda: complete.count() >= BATCH, generating, timeout=60)
        run = SyntheticRun.objects.get()
        selected = [str(u) for u in complete.order_by("id").values_list("user_id", flat=True)[:2]]
        client.force_login(staff_all)

        shown = _delete_through_the_admin(client, selected)
        _out, err = finish(generating)
    finally:
        if generating.poll() is None:
            generating.kill()

    assert any(m.startswith("Deleted 2 synthetic users") for m in shown), shown
    assert generating.returncode == 3, err
    (line,) = [line for line in err.splitlines() if line.startswith("CommandError:")]
    assert line.startswith(f"CommandError: stopped: purged by {BY}:"), line
    assert "no user was left half-written" in line
    assert (
        f"that purge removes those it selected (a purge of the run: all). Any left: python manage.py purge_synthetic --run {run.pk}"
        in line
    )
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.ABORTED and run.cancel_for_purge
    assert run.error_summary.startswith(f"cancelled by {BY}")
    assert _left_of(selected) == {"auth": 0, "profiles": 0, "checkins": 0, "live entries": 0}
    # Exact counts: every user it made is either deleted by the purge or complete and whole.
    rest = [
        str(u)
        for u in SyntheticUser.objects.filter(run=run, state="complete").values_list("user_id", flat=True)
    ]
    assert SyntheticUser.objects.filter(run=run, state="purged").count() == 2
    assert run.patients_created == 2 + len(rest) == BATCH < PATIENTS  # the batch it was held after
    assert f"of the {run.patients_created} patients and 0 therapists it made" in line
    assert _left_of(rest)["profiles"] == len(rest)
    assert not SyntheticUser.objects.filter(run=run, state="intent").exists()
    assert (run.purged_at is None) == bool(rest)  # recorded purged only once nothing of it is left
    assert_invariants(real_population)


def test_purge_all_stops_the_addition_of_days_first(real_population, generated):
    """``purge_synthetic --all`` (no ``--run``): every run in progress is asked to stop first."""
    patients = _patients(generated)
    extending, extension = _extending(generated)
    try:
        purge = manage("purge_synthetic", "--all", "--yes", env=test_database_env(), check=False)
        _out, err = finish(extending)
    finally:
        if extending.poll() is None:
            extending.kill()

    assert purge.returncode == 0, purge.stderr
    _assert_stopped_by_the_purge(extending, err, extension, "purge_synthetic (os:")
    assert _left_of(patients) == {"auth": 0, "profiles": 0, "checkins": 0, "live entries": 0}
    generated.refresh_from_db()
    extension.refresh_from_db()
    assert generated.purged_at is not None and extension.purged_at is not None
    assert_invariants(real_population)
