"""Generate a synthetic population: the one service behind the admin form and the command.

For each user, in order (``_Run._attempt``, top to bottom):

1. an **intent record** (a ledger entry, state ``intent``) is committed, so that a crash or
   Ctrl-C between the two systems leaves something ``synthetic_purge`` can find and finish;
2. the **Auth user** is created through the gateway with our own ``uuid4`` as its id, every call
   admitted by one flow controller (``synthadmin/auth/flow.py``: AIMD window, a shared pause on
   429); transient failures are retried (``services/retrying.py``); an identity collision gets a
   fresh e-mail or id, at most 3 attempts in all; an answer that proves nothing (a timeout, a
   dropped connection) keeps the intent for purge to resolve;
3. the **database rows** (profile, therapist link, check-in history, ground truth) are written in
   one transaction, which also marks the entry ``complete``. If that transaction fails, the
   Auth user is deleted again (the compensating action).

What stops a run (``_Run._record``): a rejected key or an unusable answer (at once); the same
user-level diagnosis — the Auth service unavailable, or its database refusing the row (a
trigger or constraint on ``auth.users``) — for ``STREAK_LIMIT`` users in a row; a lost
database; Ctrl-C, SIGTERM or the caller's ``stop`` event (a clean stop: users in flight are
finished or compensated). Therapists come first, since patients are linked to them.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from synthadmin.auth import AuthGateway, NewAuthUser, gateway_in_use
from synthadmin.auth.base import APP_METADATA_KEY
from synthadmin.auth.flow import FlowController
from synthadmin.db.errors import connection_lost
from synthadmin.exceptions import (
    AuthCancelledError,
    AuthDatabaseRefusedError,
    AuthDeadlineExceededError,
    AuthGatewayError,
    AuthRejectedError,
    AuthUnavailableError,
    DuplicateEmailError,
    DuplicateUserIdError,
    IdentityCollisionError,
)
from synthadmin.failpoints import AFTER_AUTH_CREATE, failpoint
from synthadmin.models import Scenario, SyntheticRun, SyntheticUser
from synthadmin.redaction import redact
from synthadmin.services import ledger
from synthadmin.services.ground_truth import ground_truth_of
from synthadmin.services.logins import logins_expire
from synthadmin.services.population import PersonSpec, patient_history, population_build, therapist_assignment
from synthadmin.services.preflight import auth_preflight
from synthadmin.services.reports import Credential, NullProgress, ProgressListener, RunReport, UserFailure
from synthadmin.services.requests import GenerationParams, GenerationRequest, generation_request_validate
from synthadmin.services.retrying import STREAK_LIMIT, transient_retrying
from synthadmin.services.threads import pool_run
from synthadmin.services.writer import ProfileRow, user_rows_write
from synthadmin.target import Target, target_get

logger = logging.getLogger(__name__)

#: Identity collisions (duplicate e-mail / id): at most this many attempts per user, in all.
IDENTITY_ATTEMPTS = 3

#: Where user ids come from: our own uuid4, the same id for Auth user and profile.
new_user_id: Callable[[], uuid.UUID] = uuid.uuid4


PHASE_USERS = "auth users"
PHASE_CHECKINS = "check-ins"


@dataclass(frozen=True)
class Starter:
    """Who started a run: ``"staff:alice"`` (admin) or ``"os:deploy"`` (command)."""

    label: str
    user_id: int | None = None
    source: str = SyntheticRun.Source.API


@dataclass(frozen=True)
class _Job:
    """One user to create: a therapist (no history) or the ``history_index``-th patient.

    ``spec.number`` is its job index in the run (therapists first, then patients), recorded on
    its ledger entries.
    """

    spec: PersonSpec
    therapist_id: uuid.UUID | None = None
    history_index: int | None = None
    pattern: str = ""


@dataclass(frozen=True)
class _Identity:
    """What one attempt at a user is called: a fresh id and e-mail per attempt."""

    user_id: uuid.UUID
    email: str
    password: str | None = field(repr=False)


@dataclass
class _Outcome:
    job: _Job
    user_id: uuid.UUID | None = None
    checkins: int = 0
    failure: str = ""
    error: BaseException | None = None  # what ended the user's attempts, if anything did
    skipped: bool = False  # never started: the run was stopping
    retries: Counter[str] = field(default_factory=Counter)


#: The public name of a job, for the background chunks that build and run slices of them.
Job = _Job


def therapist_jobs(therapists: list[PersonSpec]) -> list[Job]:
    """The jobs of a run's therapists (no history, no therapist)."""
    return [_Job(spec) for spec in therapists]


def patient_jobs(
    params: GenerationParams, patients: list[PersonSpec], therapist_ids: list[uuid.UUID]
) -> list[Job]:
    """The jobs of a run's patients: history index, pattern and therapist of each.

    The therapists are the run's therapists that were created, **in job order**; patients are
    dealt to them round-robin (``therapist_assignment``), so a therapist that failed leaves its
    patients to the others by the same rule, whoever ran which part of the run.
    """
    assignment = therapist_assignment(len(patients), therapist_ids)
    patterns = params.patient_patterns()
    return [
        _Job(spec, therapist_id=therapist, history_index=index, pattern=pattern)
        for index, (spec, therapist, pattern) in enumerate(zip(patients, assignment, patterns, strict=True))
    ]


def _job_order(outcome: _Outcome) -> int:
    return outcome.job.spec.number


class _Either:
    """Set when either event is (the flow controller only asks ``is_set()``)."""

    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def is_set(self) -> bool:
        return any(event.is_set() for event in self._events)


class _NotStarted(Exception):
    """Internal: the run is stopping; this user is not started."""


class _RowsNotWritten(Exception):
    """Internal: the user's database rows could not be written (its Auth user was deleted)."""


def synthetic_generate(
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
    stop = stop or threading.Event()
    with gateway_in_use(gateway, cancel=stop) as auth:
        # Auth unreachable, the key refused, a URL that is not Supabase Auth: one line, and
        # nothing written — no run, no ledger entry (a loss after this is the run's diagnosis).
        auth_preflight(gateway=auth)
        ledger.runs_reap_interrupted()  # runs whose process died are seen for what they are
        logins_expire()  # held logins past their hour are gone before anyone looks
        return _Run(
            params=params,
            scenario=scenario,
            gateway=auth,
            progress=progress or NullProgress(),
            credentials=credentials,
            stop=stop,
        ).execute(started_by)


class _Run:
    """One generation run: phases, the per-user attempt, and what the outcomes add up to."""

    def __init__(
        self,
        *,
        params: GenerationParams,
        scenario: Scenario | None = None,
        gateway: AuthGateway,
        progress: ProgressListener,
        credentials: Callable[[Credential], None] | None,
        stop: threading.Event,
        halt: threading.Event | None = None,
    ) -> None:
        self.params = params
        self.scenario = scenario
        self.gateway = gateway
        self.progress = progress
        self.credentials = credentials
        self.stop = stop  # from outside (Ctrl-C, a signal, the caller): also ends Auth calls in flight
        # Set by a diagnosis (_stop_run): start nothing new, but let the calls in flight end on
        # their own — cutting them short would leave users that may or may not exist.
        # A background chunk passes its run's cancel flag here: a cancel stops the same way.
        self.halt = halt or threading.Event()
        self.no_new = _Either(self.stop, self.halt)
        self.flow = FlowController(max_concurrency=params.concurrency)
        self.interrupted = False  # Ctrl-C in the calling thread
        self.abort = ""  # the diagnosis that stopped the run
        self.database_lost: DatabaseError | None = None
        self.streak: tuple[type[BaseException] | None, int] = (None, 0)
        self.retries: Counter[str] = Counter()
        self.failures: list[UserFailure] = []
        self.created: Counter[str] = Counter()
        self.patterns: Counter[str] = Counter()  # patients created, per pattern
        self.checkins = 0
        self.record: SyntheticRun
        self.target: Target

    # --- orchestration -------------------------------------------------------------------
    def execute(self, started_by: Starter) -> RunReport:
        params = self.params
        began = time.monotonic()
        # The shape of the database, read once for the whole run (docs/target-schema.md).
        self.target = target_get(refresh=True)
        self.record = ledger.run_start(
            kind=SyntheticRun.Kind.GENERATE,
            source=started_by.source,
            started_by=started_by.label,
            started_by_user_id=started_by.user_id,
            parameters=params.as_parameters(),
            seed=params.seed,
            auth_backend=self.gateway.name,
            scenario=self.scenario,
        )
        crash: BaseException | None = None
        try:
            therapists, patients = population_build(
                seed=params.seed,
                run_tag=self.record.tag,
                therapists=params.therapists,
                patients=params.patients,
                locale=params.locale,
                email_domain=settings.SYNTHADMIN_EMAIL_DOMAIN,
            )
            self.progress.phase(PHASE_USERS, len(therapists) + len(patients))
            if patients and params.checkin_days:
                # The expected count (adherence is each history's long-run share of days with
                # a check-in); the exact one is known only once every history is built.
                expected = round(len(patients) * params.checkin_days * params.adherence)
                self.progress.phase(PHASE_CHECKINS, expected)
            # Phase barrier: every therapist is settled before any patient is linked to one.
            done = self._create_all(therapist_jobs(therapists))
            therapist_ids = [o.user_id for o in sorted(done, key=_job_order) if o.user_id is not None]
            if not self.no_new.is_set():
                self._create_all(patient_jobs(params, patients, therapist_ids))
        except KeyboardInterrupt:
            self.interrupted = True
            self.stop.set()
        except BaseException as exc:
            crash = exc
            raise
        finally:
            report = self._finish(time.monotonic() - began, crash)
        if self.database_lost is not None:
            # The run is recorded as failed; the caller learns why, as the error it was.
            raise self.database_lost
        return report

    def jobs_run(self, run: SyntheticRun, jobs: list[Job]) -> list[_Outcome]:
        """Create the users of ``jobs`` for the already recorded ``run`` (a background chunk):
        the same per-user attempt as ``execute``, without starting or finishing the run.

        The counters (``created``, ``failures``, ``checkins``, ``abort``, ``database_lost``)
        say what came of them; the caller finishes the run from the ledger.
        """
        self.record = run
        self.target = target_get(refresh=True)
        self.progress.phase(PHASE_USERS, len(jobs))
        return self._create_all(jobs)

    def _create_all(self, jobs: list[_Job]) -> list[_Outcome]:
        """Run the jobs on the worker pool; outcomes are recorded in this thread."""
        outcomes: list[_Outcome] = []

        def collect(_job: _Job, outcome: _Outcome) -> None:
            outcomes.append(outcome)
            self._record(outcome)

        # Twice as many workers as Auth calls allowed in flight: while some users wait on
        # Auth, others write their rows. The flow controller bounds the calls themselves.
        workers = 2 * self.params.concurrency
        if pool_run(jobs, self._create_user, workers=workers, stop=self.stop, on_result=collect):
            self.interrupted = True
        return outcomes

    def _record(self, outcome: _Outcome) -> None:
        """Count one user's outcome; decide whether the run must stop."""
        self.retries.update(outcome.retries)
        ledger.run_heartbeat(self.record)
        error = outcome.error
        if _stops_the_run(error):
            self._stop_run(str(error))  # a rejected key or an unusable answer: nothing will work
        elif isinstance(error, DatabaseError) and connection_lost(error):
            self.database_lost = self.database_lost or error
            self._stop_run(f"the database connection was lost ({type(error).__name__})")
        kind = type(error) if isinstance(error, AuthUnavailableError | AuthDatabaseRefusedError) else None
        count = self.streak[1] + 1 if kind is not None and kind is self.streak[0] else int(kind is not None)
        self.streak = (kind, count)
        if count >= STREAK_LIMIT:
            self._stop_run(_streak_diagnosis(error, count))
        if outcome.skipped:
            return
        self.progress.advance(PHASE_USERS)
        if outcome.user_id is not None:
            self.created[outcome.job.spec.role] += 1
            if outcome.job.pattern:
                self.patterns[outcome.job.pattern] += 1
            self.checkins += outcome.checkins
        elif not isinstance(error, AuthCancelledError):
            # The user whose answer stopped the run (a rejected key) failed too: its ledger entry
            # says so, and the run's count is the ledger's, as a background run counts it
            # (``background._ledger_counts``). A user a stop kept from being tried is not counted.
            spec = outcome.job.spec
            self.failures.append(UserFailure(email=spec.email(), role=spec.role, reason=outcome.failure))

    def _stop_run(self, diagnosis: str) -> None:
        if not self.abort:
            self.abort = diagnosis
        self.halt.set()

    # --- one user ------------------------------------------------------------------------
    def _create_user(self, job: _Job) -> _Outcome:
        """All attempts at one user: a fresh identity after a collision, at most 3 in all."""
        outcome = _Outcome(job=job)
        identity_attempts = Retrying(
            stop=stop_after_attempt(IDENTITY_ATTEMPTS),
            retry=retry_if_exception_type(IdentityCollisionError),
            reraise=True,
        )
        try:
            for attempt in identity_attempts:
                with attempt:
                    if self.no_new.is_set():
                        raise _NotStarted
                    number = attempt.retry_state.attempt_number
                    outcome.user_id, outcome.checkins = self._attempt(job, number, outcome.retries)
        except _NotStarted:
            outcome.skipped = True
        except (AuthGatewayError, _RowsNotWritten, DatabaseError) as exc:
            outcome.error = exc.__cause__ if isinstance(exc, _RowsNotWritten) else exc
            outcome.failure = redact(_failure_reason(exc))
        return outcome

    def _attempt(self, job: _Job, number: int, retries: Counter[str]) -> tuple[uuid.UUID, int]:
        """One attempt, top to bottom: intent, Auth user, rows (or compensation)."""
        spec = job.spec
        identity = _Identity(
            user_id=new_user_id(),
            email=spec.email(number),
            # A password only when someone will log in with it (a credentials sink); 256 bits.
            password=secrets.token_urlsafe(32) if self.credentials is not None else None,
        )
        entry = ledger.entry_intent(
            run=self.record,
            user_id=identity.user_id,
            email=identity.email,
            role=spec.role,
            attempt=number,
            job_index=spec.number,
        )
        self._auth_create(entry, identity, spec, retries)
        failpoint(AFTER_AUTH_CREATE)  # tests only: a crash between the two systems
        written = self._rows_write(entry, identity, job, retries)
        if self.credentials is not None and identity.password is not None:
            self.credentials(
                Credential(
                    email=identity.email, password=identity.password, role=spec.role, user_id=identity.user_id
                )
            )
        if written:
            self.progress.advance(PHASE_CHECKINS, written)
        return identity.user_id, written

    def _auth_create(
        self, entry: SyntheticUser, identity: _Identity, spec: PersonSpec, retries: Counter[str]
    ) -> None:
        """Create the Auth user; on failure, record in the ledger what the failure proves."""
        new_user = NewAuthUser(
            id=identity.user_id,
            email=identity.email,
            password=identity.password,
            # The role (and name) where a signup trigger on auth.users reads them, so the profile
            # row it creates is already the right one (docs/target-schema.md).
            user_metadata={
                "name": spec.full_name,
                "full_name": spec.full_name,
                "username": spec.username,
                "role": spec.role,
                "synthetic": True,
            },
            app_metadata={
                APP_METADATA_KEY: {"synthetic": True, "run_id": str(self.record.id), "intent": entry.pk}
            },
        )

        # Whether an earlier attempt of this very request may have created the user: the last
        # attempt's error alone cannot say (after a lost answer, "connection refused" or an
        # "e-mail exists" nobody could attribute proves nothing about the first attempt).
        maybe_created = False

        def count(state: RetryCallState) -> None:
            nonlocal maybe_created
            retries["transient"] += 1
            error = state.outcome.exception() if state.outcome is not None else None
            maybe_created = maybe_created or bool(getattr(error, "user_may_exist", False))

        try:
            transient_retrying(on_retry=count)(
                self.flow.call, self._create_or_stop, new_user, cancel=self.no_new
            )
        except IdentityCollisionError as exc:
            retries["duplicate_email" if isinstance(exc, DuplicateEmailError) else "duplicate_id"] += 1
            if maybe_created or exc.user_may_exist:
                ledger.entry_pending(entry.pk, redact(f"{exc}; an earlier attempt may have created it"))
            else:
                ledger.entry_collided(entry.pk, redact(str(exc)))
            raise
        except AuthGatewayError as exc:
            # A database refusal was settled by a lookup (no user at the id); anything else
            # after a possibly successful attempt still proves nothing.
            if exc.user_may_exist or (maybe_created and not isinstance(exc, AuthDatabaseRefusedError)):
                # The answer proves nothing: the user may exist. The intent stays for purge.
                ledger.entry_pending(entry.pk, redact(f"{exc}; the Auth user may exist: purge resolves it"))
            else:
                ledger.entry_failed([entry.pk], redact(str(exc)))
            raise

    def _create_or_stop(self, new_user: NewAuthUser) -> object:
        """The gateway's create; an answer that stops the run stops it here, inside the call's
        permit, so that no other worker's call starts after it (one create call, not several)."""
        try:
            return self.gateway.create_user(new_user)
        except AuthRejectedError as exc:
            if _stops_the_run(exc):
                self._stop_run(str(exc))
            raise

    def _rows_write(self, entry: SyntheticUser, identity: _Identity, job: _Job, retries: Counter[str]) -> int:
        """Profile, link, history and ground truth in one transaction; compensate on failure."""
        profile = ProfileRow(
            id=identity.user_id,
            email=identity.email,
            username=job.spec.username,
            role=job.spec.role,
            therapist_id=job.therapist_id,
        )
        rows = truth = None
        if job.history_index is not None and self.params.checkin_days:
            history = patient_history(
                seed=self.params.seed,
                patient_index=job.history_index,
                pattern=job.pattern,
                days=self.params.checkin_days,
                end_date=self.params.end_date,
                adherence=self.params.adherence,
            )
            rows, truth = history.iter_json_rows(), ground_truth_of(history)
        try:
            return user_rows_write(
                target=self.target, profile=profile, checkins=rows, ledger_id=entry.pk, ground_truth=truth
            )
        except (DuplicateUserIdError, DatabaseError) as exc:
            self._compensate(entry, exc)
            if isinstance(exc, DuplicateUserIdError):
                retries["duplicate_id"] += 1
                raise
            raise _RowsNotWritten(
                f"database write failed, Auth user deleted again: {type(exc).__name__}: {exc}"
            ) from exc

    def _compensate(self, entry: SyntheticUser, cause: BaseException) -> None:
        """Delete the Auth user whose database rows could not be written."""
        try:
            transient_retrying()(self.flow.call, self.gateway.delete_user, entry.user_id)
        except AuthGatewayError as exc:
            # The intent record stays: synthetic_purge will find the Auth user and finish.
            ledger.entry_pending(
                entry.pk,
                redact(
                    f"database write failed ({type(cause).__name__}); deleting the Auth user also failed "
                    f"({exc}); purge this run to finish"
                ),
            )
            logger.error(
                "could not delete Auth user %s after a failed write: %s", entry.user_id, redact(str(exc))
            )
            return
        reason = redact(f"{type(cause).__name__}: {cause}")
        if isinstance(cause, DuplicateUserIdError):
            ledger.entry_collided(entry.pk, reason)
        else:
            ledger.entry_compensated(entry.pk, reason)

    # --- the end ---------------------------------------------------------------------------
    def _finish(self, duration: float, crash: BaseException | None) -> RunReport:
        created = self.created["patient"] + self.created["therapist"]
        stopped_from_outside = self.interrupted or (self.stop.is_set() and not self.abort)
        status, error = ledger.run_status(
            ledger.RunOutcome(
                crash=crash,
                stopped=stopped_from_outside,
                abort=self.abort,
                failures=len(self.failures),
                first_failure=self.failures[0].reason if self.failures else "",
                created=created,
            )
        )
        flow = self.flow.stats()
        retries = dict(self.retries)
        ledger.run_finish(
            self.record,
            status=status,
            error=error,
            patients_created=self.created["patient"],
            therapists_created=self.created["therapist"],
            checkins_created=self.checkins,
            users_failed=len(self.failures),
            retries={**retries, "rate_limited": flow.rate_limited} if flow.rate_limited else retries,
        )
        run = self.record
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
            failures=list(self.failures),
            error=run.error_summary,
            duration_seconds=round(duration, 3),
            auth_backend=run.auth_backend,
            patients_by_pattern=dict(sorted(self.patterns.items())),
            auth_flow={
                "rate_limited": flow.rate_limited,
                "concurrency_settled": flow.settled_limit,
                "concurrency_max": flow.max_concurrency,
                "paused_seconds": flow.paused_seconds,
            },
            stopped_by=self.abort,
        )


def _stops_the_run(error: BaseException | None) -> bool:
    """A rejected key or an unusable answer: every further call would get the same."""
    return isinstance(error, AuthRejectedError) and not isinstance(error, AuthDatabaseRefusedError)


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, DuplicateEmailError):
        return f"e-mail already registered on all {IDENTITY_ATTEMPTS} attempts ({exc})"
    if isinstance(exc, DuplicateUserIdError):
        return f"user id already taken on all {IDENTITY_ATTEMPTS} attempts ({exc})"
    if isinstance(exc, AuthUnavailableError):
        return f"Auth service unavailable after retries: {exc}"
    if isinstance(exc, DatabaseError):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"database error: {type(exc).__name__}: {first}"
    return str(exc)


def _streak_diagnosis(error: BaseException | None, count: int) -> str:
    if isinstance(error, AuthDeadlineExceededError):
        return (
            f"Supabase Auth did not answer within the call deadline (SYNTHADMIN_AUTH_CALL_DEADLINE_SECONDS) "
            f"for {count} users in a row ({error}); check that SUPABASE_URL is right and the service "
            "healthy, then run again"
        )
    if isinstance(error, AuthDatabaseRefusedError):
        return (
            f"the Auth database refused the new auth.users row for {count} users in a row ({error}); "
            "a trigger or constraint on auth.users rejects it: fix it, then run again"
        )
    return (
        f"the Auth service stayed unavailable for {count} users in a row ({error}); "
        "check that SUPABASE_URL is right and reachable, then run again"
    )


__all__ = [
    "PHASE_CHECKINS",
    "PHASE_USERS",
    "Job",
    "Starter",
    "patient_jobs",
    "synthetic_generate",
    "therapist_jobs",
]
