"""Creating the users of a recorded run, one attempt at a time: ``UserCreation``.

For each user, in order (``UserCreation._attempt``, top to bottom):

1. an **intent record** (a ledger entry, state ``intent``) is committed, so that a crash or
   Ctrl-C between the two systems leaves something ``synthetic_users_purge`` can find and finish;
2. the **Auth user** is created through the gateway with our own ``uuid4`` as its id, every call
   admitted by one flow controller (``synthadmin/auth/flow.py``); transient failures are
   retried (``services/retrying.py``); an identity collision gets a fresh e-mail or id, at most
   3 attempts in all; an answer that proves nothing keeps the intent for purge to resolve;
3. the **database rows** (profile, therapist link, check-in history, ground truth) are written in
   one transaction, which also marks the entry ``complete``. If that transaction fails, the
   Auth user is deleted again (the compensating action).

The inline run (``services.generation``) and a background chunk (``services.chunks``) both
create their users here.
"""

from __future__ import annotations

import functools
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import DatabaseError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from synthadmin.auth import AuthGateway, NewAuthUser, gateway_service
from synthadmin.auth.base import APP_METADATA_KEY
from synthadmin.auth.flow import FlowController
from synthadmin.db.errors import connection_lost, first_line
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
from synthadmin.failpoints import AFTER_AUTH_CREATE, BEFORE_AUTH_CREATE, failpoint, watching
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.redaction import redact
from synthadmin.services import ledger
from synthadmin.services.ground_truth import ground_truth_of
from synthadmin.services.jobs import Job
from synthadmin.services.logins import password_new
from synthadmin.services.population import PersonSpec, patient_history
from synthadmin.services.reports import Credential, ProgressListener, UserFailure
from synthadmin.services.requests import GenerationParams
from synthadmin.services.retrying import STREAK_LIMIT, transient_retrying
from synthadmin.services.threads import pool_run
from synthadmin.services.writer import ProfileRow, user_rows_write
from synthadmin.target import Target

logger = logging.getLogger(__name__)

#: Identity collisions (duplicate e-mail / id): at most this many attempts per user, in all.
IDENTITY_ATTEMPTS = 3

#: Where user ids come from: our own uuid4, the same id for Auth user and profile.
new_user_id: Callable[[], uuid.UUID] = uuid.uuid4

PHASE_USERS = "auth users"
PHASE_CHECKINS = "check-ins"


@dataclass(frozen=True)
class _Identity:
    """What one attempt at a user is called: a fresh id and e-mail per attempt."""

    user_id: uuid.UUID
    email: str
    password: str | None = field(repr=False)


@dataclass
class Outcome:
    """What came of one job: the user created (``user_id``), or why not."""

    job: Job
    user_id: uuid.UUID | None = None
    checkins: int = 0
    failure: str = ""
    error: BaseException | None = None  # what ended the user's attempts, if anything did
    skipped: bool = False  # never started: the run was winding down
    retries: Counter[str] = field(default_factory=Counter)


class _NotStarted(Exception):
    """Internal: the run is winding down; this user is not started."""


class _RowsNotWritten(Exception):
    """Internal: the user's database rows could not be written (its Auth user was deleted)."""


class WindDown:
    """Start no new user; the Auth calls in flight end on their own. Set by a diagnosis or by a
    background run's cancel; also set, in effect, whenever ``stop`` is (which ends calls in
    flight as well). The flow controller asks it ``is_set()`` before each call."""

    def __init__(self, stop: threading.Event, event: threading.Event | None = None) -> None:
        self._stop = stop
        self._event = event or threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set() or self._stop.is_set()


class UserCreation:
    """Creates users of an already recorded run and adds up what came of them.

    ``stop`` (Ctrl-C, a signal, the caller; the gateway's cancel event too) stops everything,
    Auth calls in flight included. ``wind_down`` starts no new user but lets the calls in flight
    end — cutting them short would leave users that may or may not exist; a background chunk
    passes its run's cancel flag here, and a ``diagnosis`` (a rejected key, Auth or the database
    lost) sets it too. The counters (``created``, ``failures``, ``checkins``, ``patterns``,
    ``retries``) say what came of the jobs; ``database_lost`` is the error that lost the database.
    """

    def __init__(
        self,
        *,
        run: SyntheticRun,
        target: Target,
        params: GenerationParams,
        gateway: AuthGateway,
        progress: ProgressListener,
        credentials: Callable[[Credential], None] | None,
        stop: threading.Event,
        wind_down: threading.Event | None = None,
    ) -> None:
        self.run = run
        self.target = target
        self.params = params
        self.gateway = gateway
        self.progress = progress
        self.credentials = credentials
        self.stop = stop
        self.wind_down = WindDown(stop, wind_down)
        self.diagnosis = ""  # what stopped the run, if something did
        self.database_lost: DatabaseError | None = None
        self.flow = FlowController(max_concurrency=params.concurrency, service=gateway_service(gateway))
        self.streak: tuple[type[BaseException] | None, int] = (None, 0)
        self.retries: Counter[str] = Counter()
        self.failures: list[UserFailure] = []
        self.created: Counter[str] = Counter()
        self.patterns: Counter[str] = Counter()  # patients created, per pattern
        self.checkins = 0

    def users_create(self, jobs: list[Job]) -> list[Outcome]:
        """Create the users of ``jobs`` on the worker pool; outcomes are counted in this thread.

        Writes per user what the module docstring lists. A Ctrl-C in this thread sets ``stop``
        (the users in flight end first); returns the outcomes of the users it settled.
        """
        outcomes: list[Outcome] = []

        def collect(_job: Job, outcome: Outcome) -> None:
            outcomes.append(outcome)
            self._record(outcome)

        # Twice as many workers as Auth calls allowed in flight: while some users wait on
        # Auth, others write their rows. The flow controller bounds the calls themselves.
        with watching(self.stop):  # tests only: where a signal failpoint waits for the stop
            pool_run(
                jobs,
                self._create_user,
                workers=2 * self.params.concurrency,
                stop=self.stop,
                on_result=collect,
            )
        return outcomes

    def _record(self, outcome: Outcome) -> None:
        """Count one user's outcome; decide whether the run must stop."""
        self.retries.update(outcome.retries)
        ledger.run_heartbeat(self.run)
        error = outcome.error
        if _stops_the_run(error):
            self._diagnose(str(error))  # a rejected key or an unusable answer: nothing will work
        elif isinstance(error, DatabaseError) and connection_lost(error):
            self.database_lost = self.database_lost or error
            self._diagnose(f"the database connection was lost ({type(error).__name__})")
        kind = type(error) if isinstance(error, AuthUnavailableError | AuthDatabaseRefusedError) else None
        count = self.streak[1] + 1 if kind is not None and kind is self.streak[0] else int(kind is not None)
        self.streak = (kind, count)
        if count >= STREAK_LIMIT:
            self._diagnose(_streak_diagnosis(error, count))
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
            # says so, and the run's count is the ledger's (``ledger.run_counts``). A user a stop
            # kept from being tried is not counted.
            spec = outcome.job.spec
            self.failures.append(UserFailure(email=spec.email(), role=spec.role, reason=outcome.failure))

    def _diagnose(self, diagnosis: str) -> None:
        """The first diagnosis stays; the run winds down."""
        if not self.diagnosis:
            self.diagnosis = diagnosis
        self.wind_down.set()

    def _create_user(self, job: Job) -> Outcome:
        """All attempts at one user: a fresh identity after a collision, at most 3 in all."""
        outcome = Outcome(job=job)
        identity_attempts = Retrying(
            stop=stop_after_attempt(IDENTITY_ATTEMPTS),
            retry=retry_if_exception_type(IdentityCollisionError),
            reraise=True,
        )
        try:
            for attempt in identity_attempts:
                with attempt:
                    if self.wind_down.is_set():
                        raise _NotStarted
                    number = attempt.retry_state.attempt_number
                    outcome.user_id, outcome.checkins = self._attempt(job, number, outcome.retries)
        except _NotStarted:
            outcome.skipped = True
        except (AuthGatewayError, _RowsNotWritten, DatabaseError) as exc:
            outcome.error = exc.__cause__ if isinstance(exc, _RowsNotWritten) else exc
            outcome.failure = redact(_failure_reason(exc))
        return outcome

    def _attempt(self, job: Job, number: int, retries: Counter[str]) -> tuple[uuid.UUID, int]:
        """One attempt, top to bottom: intent, Auth user, rows (or compensation)."""
        spec = job.spec
        identity = _Identity(
            user_id=new_user_id(),
            email=spec.email(number),
            # A password only when someone will log in with it (a credentials sink); 262 bits.
            password=password_new() if self.credentials is not None else None,
        )
        entry = ledger.entry_intent(
            run=self.run,
            user_id=identity.user_id,
            email=identity.email,
            role=spec.role,
            attempt=number,
            job_index=spec.number,
            name=spec.full_name,
        )
        failpoint(BEFORE_AUTH_CREATE)  # tests only: a stop with the intent recorded, nothing sent
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
                APP_METADATA_KEY: {"synthetic": True, "run_id": str(self.run.id), "intent": entry.pk}
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
                self.flow.call, self._create_or_stop, new_user, cancel=self.wind_down
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
            elif isinstance(exc, AuthCancelledError):
                ledger.entry_not_sent(entry.pk, redact(str(exc)))  # a stop came first: never tried
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
                self._diagnose(str(exc))
            raise

    def _rows_write(self, entry: SyntheticUser, identity: _Identity, job: Job, retries: Counter[str]) -> int:
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
        """Delete the Auth user whose database rows could not be written — also after a stop:
        a stop starts no new work, it never keeps what was done from being undone (the call is
        not cancellable; the deadline still bounds it)."""
        try:
            undo = functools.partial(self.gateway.delete_user, cancellable=False)
            transient_retrying()(self.flow.call, undo, entry.user_id)
        except AuthGatewayError as exc:
            # The intent record stays: synthetic_users_purge will find the Auth user and finish.
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
        return f"database error: {type(exc).__name__}: {first_line(exc)}"
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


__all__ = ["IDENTITY_ATTEMPTS", "PHASE_CHECKINS", "PHASE_USERS", "Outcome", "UserCreation", "WindDown"]
