"""**Cancel this run** on the page of a run going inline in another process (a real
``generate_synthetic`` subprocess, and a real ``extend_synthetic``): the page offers Cancel, the
view sets the run's cancel flag and says the process running it stops between users or batches;
that process does, ends the run ``aborted`` ("cancelled by staff:…") with exact counts and no
orphans, and its command says it was cancelled — not purged: what it made stays, purgeable.

The process is held after its first batch (a pause failpoint), so Cancel always meets it in
progress and it stops exactly there: one whole batch made, whatever else the machine runs."""

from __future__ import annotations

import datetime as dt

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from synthadmin.failpoints import ADDITIONS_AFTER_BATCH, ENV, GENERATE_AFTER_BATCH, PAUSE
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants
from tests.ops.helpers import finish, start_manage, test_database_env, wait_for

#: Three batches: the process is held after the first, Cancel arrives, the others never start.
PATIENTS = 12
BATCH = 4
#: One batch at a time, so that the one held is the only one written.
GENERATE = ("generate_synthetic", "--patients", str(PATIENTS), "--checkins", "5", "--concurrency", "1")


def _held_after_first_batch(point: str) -> dict[str, str]:
    """Batches of ``BATCH``; the process held after its first one until it is asked to stop."""
    return test_database_env({"SYNTHADMIN_BATCH_USERS": str(BATCH), ENV: f"{point}:{PAUSE}"})


def _count(query: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def _cancel_through_the_page(client, run: SyntheticRun) -> str:
    """Open the run's page (it offers Cancel), press it; the message the view gave."""
    client.force_login(User.objects.create_superuser("operator", "operator@example.com", "pw-for-tests"))
    page = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk]))
    assert b'id="cancel-run"' in page.content
    assert b"The process running it stops between users or batches" in page.content
    response = client.post(reverse("admin:synthadmin_syntheticrun_cancel", args=[run.pk]), follow=True)
    assert response.status_code == 200
    (message,) = [str(m) for m in response.context["messages"]]
    return message


def test_cancel_stops_an_inline_generation_with_exact_counts(client, real_population):
    generating = start_manage(*GENERATE, env=_held_after_first_batch(GENERATE_AFTER_BATCH))
    try:
        wait_for(
            lambda: SyntheticUser.objects.filter(state="complete").count() >= BATCH, generating, timeout=60
        )
        run = SyntheticRun.objects.get()
        assert not run.background and run.status == SyntheticRun.Status.RUNNING

        message = _cancel_through_the_page(client, run)
        progress = client.get(reverse("admin:synthadmin_syntheticrun_progress", args=[run.pk])).json()
        _out, err = finish(generating)
    finally:
        if generating.poll() is None:
            generating.kill()

    assert message.startswith(
        f"Cancelled: the process running this run ({run.owner_host}, pid {run.owner_pid})"
    )
    assert "stops between users or batches" in message
    assert progress["cancel_requested"]
    assert progress["finished"] or "stops between users or batches" in progress["message"]
    # The generating process stopped and said so: cancelled, not purged; what it made stays.
    assert generating.returncode == 3, err
    (line,) = [line for line in err.splitlines() if line.startswith("CommandError:")]
    assert line.startswith(
        "CommandError: stopped: cancelled by staff:operator: no user was left half-written"
    )
    assert "Remove this run with: python manage.py purge_synthetic --run" in line and "purged" not in line
    run.refresh_from_db()
    assert run.status == SyntheticRun.Status.ABORTED and run.purged_at is None
    assert run.error_summary.startswith("cancelled by staff:operator")
    # The flag stays, as the record of who stopped it (the run's end does not write it back).
    assert run.cancel_requested_by == "staff:operator" and run.cancel_requested_at is not None
    assert not run.cancel_for_purge
    # Exact counts: the run's figures are its rows.
    complete = SyntheticUser.objects.filter(run=run, state="complete")
    ids = [str(u) for u in complete.values_list("user_id", flat=True)]
    assert run.patients_created == len(ids) == BATCH < PATIENTS  # the batch it was held after
    assert f"{run.patients_created} patients and 0 therapists are complete" in line
    marker = "SELECT count(*) FROM auth.users WHERE raw_app_meta_data -> 'synthadmin' ->> 'run_id' = %s"
    assert _count(marker, [str(run.pk)]) == len(ids)
    assert _count(
        "SELECT count(*) FROM public.profiles WHERE is_test_patient AND id::text = ANY(%s)", [ids]
    ) == len(ids)
    assert _count("SELECT count(*) FROM public.check_ins WHERE user_id::text = ANY(%s)", [ids]) == (
        run.checkins_created
    )
    assert not SyntheticUser.objects.filter(run=run, state="intent").exists()
    assert LogEntry.objects.filter(object_id=str(run.pk), action_flag=CHANGE).exists()
    assert_invariants(real_population)  # no orphans, every count its rows, real rows untouched


def test_cancel_stops_an_inline_addition_of_days_between_batches(client, real_population):
    made = population_generate(
        request=GenerationRequest(
            patients=PATIENTS,
            checkin_days=3,
            seed=21,
            adherence=1.0,
            end_date=timezone.localdate() - dt.timedelta(days=5),
        ),
        started_by=Starter("os:tester"),
    )
    extending = start_manage(
        "extend_synthetic",
        "--to-today",
        "--run",
        str(made.run_id),
        env=_held_after_first_batch(ADDITIONS_AFTER_BATCH),
    )
    try:
        wait_for(lambda: CheckinAddition.objects.count() >= BATCH, extending, timeout=60)
        extension = SyntheticRun.objects.get(kind=SyntheticRun.Kind.EXTEND)

        message = _cancel_through_the_page(client, extension)
        _out, err = finish(extending)
    finally:
        if extending.poll() is None:
            extending.kill()

    assert "stops between users or batches" in message
    assert extending.returncode == 3, err
    (line,) = [line for line in err.splitlines() if line.startswith("CommandError:")]
    assert line.startswith("CommandError: stopped: cancelled by staff:operator between batches"), line
    extension.refresh_from_db()
    assert extension.status == SyntheticRun.Status.ABORTED and extension.purged_at is None
    records = CheckinAddition.objects.filter(run=extension, removed_at__isnull=True)
    assert records.count() == BATCH < PATIENTS  # stopped part way, where it was held: one whole batch
    assert extension.checkins_created == records.aggregate(n=Sum("checkins"))["n"]
    reached = f"{records.count()} of {PATIENTS} patients got their days whole"
    assert f"{reached} ({extension.checkins_created:,} check-ins)" in line
    assert line.endswith("Run the same command again to finish: --to-today adds only the days still missing")
    assert_invariants(real_population)  # every ledger count equals its check-ins, real rows untouched
