"""Generate a synthetic population inline: the one service behind the admin form and the command.

The run is recorded, its population built, then its users created (``services.user_creation``):
therapists first, since patients are linked to them. What stops a run: a rejected key or an
unusable answer (at once); the same user-level diagnosis — the Auth service unavailable, or its
database refusing the row — for ``STREAK_LIMIT`` users in a row; a lost database; Ctrl-C,
SIGTERM or the caller's ``stop`` event (a clean stop: users in flight are finished or
compensated).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.conf import settings

from synthadmin.auth import AuthGateway, gateway_in_use
from synthadmin.logs import run_logged
from synthadmin.models import Scenario, SyntheticRun
from synthadmin.services import ledger
from synthadmin.services.jobs import patient_jobs, therapist_jobs
from synthadmin.services.ledger import Starter
from synthadmin.services.logins import logins_expire
from synthadmin.services.population import population_build, population_names_check
from synthadmin.services.preflight import auth_preflight
from synthadmin.services.reports import Credential, NullProgress, ProgressListener, RunReport
from synthadmin.services.requests import GenerationParams, GenerationRequest, generation_request_validate
from synthadmin.services.run_watch import CancelWatch
from synthadmin.services.user_creation import PHASE_CHECKINS, PHASE_USERS, UserCreation
from synthadmin.target import RUN_MAX_AGE, target_get


@run_logged()
def population_generate(
    *,
    request: GenerationRequest | GenerationParams,
    started_by: Starter,
    scenario: Scenario | None = None,
    gateway: AuthGateway | None = None,
    progress: ProgressListener | None = None,
    credentials: Callable[[Credential], None] | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Create ``request.therapists`` therapists and ``request.patients`` patients with histories.

    Writes: one ``SyntheticRun``; per user a ledger entry, an Auth user, a profile with
    ``is_test_patient = true`` (and ``source = 'synthetic'`` where the column exists), its
    therapist link where the shape keeps one and, for patients, ``request.checkin_days`` days of
    check-ins (fewer, by adherence) with their ground truth. Never touches a row it did not create.

    Returns the run report; its status is ``succeeded``, ``partial`` (some users failed — each
    failure is listed with its reason), ``failed`` (a diagnosis stopped the run: a rejected key,
    an unusable answer, Auth unavailable or refusing rows for several users in a row, the
    database lost; the report says which) or ``aborted`` (Ctrl-C, SIGTERM or ``stop`` set:
    in-flight users were finished or compensated, none was left half-written).

    Raises InvalidRequestError for a bad parameter and ConfigurationError for a gateway that
    cannot work — misconfigured, or its preflight failed: Auth unreachable, the key refused, an
    answer that is not Supabase Auth's (``services.preflight``) —, both before anything is
    written; AuthCancelledError when ``stop`` ended that preflight; re-raises the ``DatabaseError`` of a lost
    database connection once the run is recorded as failed (when the database answers again).
    ``credentials`` receives each created user's login; without it no password is made (like
    GoTrue given none, each user gets one nobody knows). ``gateway``, when given, is the
    caller's to close; else one is made and closed here, built with ``stop`` so that Ctrl-C
    also ends calls in flight.
    """
    params = generation_request_validate(request)
    population_names_check(locale=params.locale)
    stop = stop or threading.Event()
    with gateway_in_use(gateway, cancel=stop) as auth:
        # Auth unreachable, the key refused, a URL that is not Supabase Auth: one line, and
        # nothing written — no run, no ledger entry (a loss after this is the run's diagnosis).
        auth_preflight(gateway=auth)
        ledger.runs_reap_interrupted()  # runs whose process died are seen for what they are
        logins_expire()  # held logins past their hour are gone before anyone looks
        return _run_inline(
            params=params,
            started_by=started_by,
            scenario=scenario,
            gateway=auth,
            progress=progress or NullProgress(),
            credentials=credentials,
            stop=stop,
        )


def _run_inline(
    *,
    params: GenerationParams,
    started_by: Starter,
    scenario: Scenario | None,
    gateway: AuthGateway,
    progress: ProgressListener,
    credentials: Callable[[Credential], None] | None,
    stop: threading.Event,
) -> RunReport:
    """Record the run, create its users in this process, record how it ended; its report."""
    began = time.monotonic()
    # The shape of the database, read once for the whole run (docs/target-schema.md).
    target = target_get(max_age=RUN_MAX_AGE)
    run = ledger.run_start(
        kind=SyntheticRun.Kind.GENERATE,
        started_by=started_by,
        parameters=params.as_parameters(),
        seed=params.seed,
        auth_backend=gateway.name,
        scenario=scenario,
    )
    progress.run_started(run.pk)
    wind_down = threading.Event()
    creation = UserCreation(
        run=run,
        target=target,
        params=params,
        gateway=gateway,
        progress=progress,
        credentials=credentials,
        stop=stop,
        wind_down=wind_down,
    )
    crash: BaseException | None = None
    # Cancel, or a purge of this run, sets its cancel flag: the watch winds the run down.
    watch = CancelWatch(run.pk, wind_down)
    try:
        with watch:
            _users_create(creation)
    except KeyboardInterrupt:
        stop.set()
    except BaseException as exc:
        crash = exc
        raise
    finally:
        report = _run_end(creation, time.monotonic() - began, crash, watch=watch)
    if creation.database_lost is not None:
        # The run is recorded as failed; the caller learns why, as the error it was.
        raise creation.database_lost
    return report


def _users_create(creation: UserCreation) -> None:
    """The run's population, therapists first: every therapist is settled before any patient is
    linked to one (the phase barrier)."""
    params = creation.params
    therapists, patients = population_build(
        seed=params.seed,
        run_tag=creation.run.tag,
        therapists=params.therapists,
        patients=params.patients,
        locale=params.locale,
        email_domain=settings.SYNTHADMIN_EMAIL_DOMAIN,
        unique_usernames=creation.target.unique_usernames,
    )
    creation.progress.phase(PHASE_USERS, len(therapists) + len(patients))
    if patients and params.checkin_days:
        # The expected count (adherence is each history's long-run share of days with a
        # check-in); the exact one is known only once every history is built.
        creation.progress.phase(PHASE_CHECKINS, round(len(patients) * params.checkin_days * params.adherence))
    done = creation.users_create(therapist_jobs(therapists))
    in_order = sorted(done, key=lambda outcome: outcome.job.spec.number)
    therapist_ids = [o.user_id for o in in_order if o.user_id is not None]
    if not creation.wind_down.is_set():
        creation.users_create(patient_jobs(params, patients, therapist_ids))


def _run_end(
    creation: UserCreation, duration: float, crash: BaseException | None, *, watch: CancelWatch
) -> RunReport:
    """Record how the run ended (the status ladder, its counts); its report. ``watch`` says who
    asked the run to stop through the database (Cancel, a purge of it), if anyone did."""
    cancelled_by = watch.requested_by
    created = creation.created["patient"] + creation.created["therapist"]
    status, error = ledger.run_status(
        ledger.RunOutcome(
            crash=crash,
            stopped=creation.stop.is_set() and not creation.diagnosis,
            cancelled_by=cancelled_by if not creation.diagnosis else "",
            abort=creation.diagnosis,
            failures=len(creation.failures),
            first_failure=creation.failures[0].reason if creation.failures else "",
            created=created,
        )
    )
    flow = creation.flow.stats()
    retries = dict(creation.retries)
    run = creation.run
    ledger.run_finish(
        run,
        status=status,
        error=error,
        patients_created=creation.created["patient"],
        therapists_created=creation.created["therapist"],
        checkins_created=creation.checkins,
        users_failed=len(creation.failures),
        retries={**retries, "rate_limited": flow.rate_limited} if flow.rate_limited else retries,
    )
    return RunReport(
        run_id=run.id,
        status=str(status),
        kind=str(run.kind),
        seed=run.seed,
        parameters=run.parameters,
        patients_created=run.patients_created,
        therapists_created=run.therapists_created,
        checkins_created=run.checkins_created,
        retries=retries,
        failures=list(creation.failures),
        error=run.error_summary,
        duration_seconds=round(duration, 3),
        auth_backend=run.auth_backend,
        patients_by_pattern=dict(sorted(creation.patterns.items())),
        auth_flow={
            "rate_limited": flow.rate_limited,
            "concurrency_settled": flow.settled_limit,
            "concurrency_max": flow.max_concurrency,
            "paused_seconds": flow.paused_seconds,
        },
        stopped_by=creation.diagnosis,
        cancelled_by=cancelled_by,
        cancel_for_purge=watch.for_purge,
        # Read from the ledger after the stop, never assumed: what the closing message says.
        users_unsettled=ledger.run_unsettled(run),
    )


__all__ = ["population_generate"]
