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

Users go in batches of ``SYNTHADMIN_BATCH_USERS``: a batch's intents in one statement, its
rows in one transaction. On a gateway that writes Auth rows itself (local) a batch's Auth users
are made in its intents' transaction, batches side by side. Through Supabase Auth (one call per
user) the batches run through ``services.auth_batches``: the next batch's intents are committed
while the calls before it run, every call goes through one pool, and a batch's rows are written
once its last call has ended, while the next batch's calls go on. What fails in a batch falls
back to one user at a time (the steps above).

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

from django.conf import settings
from django.db import DatabaseError
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from synthadmin.auth import AuthGateway, NewAuthUser, gateway_service
from synthadmin.auth.base import APP_METADATA_KEY, BatchCreatingGateway
from synthadmin.auth.flow import FlowController
from synthadmin.db.errors import connection_lost
from synthadmin.db.pipeline import Statement
from synthadmin.exceptions import (
    AuthCancelledError,
    AuthDatabaseRefusedError,
    AuthGatewayError,
    AuthRejectedError,
    AuthUnavailableError,
    DuplicateEmailError,
    DuplicateUserIdError,
    IdentityCollisionError,
)
from synthadmin.failpoints import (
    AFTER_AUTH_CREATE,
    BEFORE_AUTH_CREATE,
    GENERATE_AFTER_BATCH,
    GENERATE_BATCH_INTENTS,
    failpoint,
    watching,
)
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.redaction import redact
from synthadmin.services import ledger
from synthadmin.services.auth_batches import BatchSteps, auth_batches_run
from synthadmin.services.creation_failures import (
    IDENTITY_ATTEMPTS,
    stops_the_run,
    streak_diagnosis,
)
from synthadmin.services.jobs import Job, history_builder
from synthadmin.services.logins import password_new
from synthadmin.services.population import PersonSpec
from synthadmin.services.reports import Credential, ProgressListener, UserFailure
from synthadmin.services.requests import GenerationParams
from synthadmin.services.retrying import STREAK_LIMIT, transient_retrying
from synthadmin.services.threads import WindDown, pool_run
from synthadmin.services.user_attempts import (
    Identity,
    NotStarted,
    Outcome,
    RowsNotWritten,
    Tried,
    outcome_failed,
    outcomes_skipped,
    profile_row,
)
from synthadmin.services.writer import UserRows, user_rows_write, users_rows_write
from synthadmin.target import Target

logger = logging.getLogger(__name__)

#: Where user ids come from: our own uuid4, the same id for Auth user and profile.
new_user_id: Callable[[], uuid.UUID] = uuid.uuid4

PHASE_USERS = "auth users"
PHASE_CHECKINS = "check-ins"


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
        self._watch_lock = threading.Lock()
        self._entry_ids: dict[int, int] = {}  # job index -> its first attempt's ledger id

    def users_create(self, jobs: list[Job]) -> list[Outcome]:
        """Create the users of ``jobs``, in batches of ``SYNTHADMIN_BATCH_USERS`` on the worker
        pool; outcomes are counted in this thread.

        Writes per batch what the module docstring lists. A Ctrl-C in this thread sets ``stop``
        (the batches in flight end first: their users are finished or compensated); returns the
        outcomes of the users it settled.
        """
        outcomes: list[Outcome] = []

        def collect(_batch: list[Job], settled: list[Outcome]) -> None:
            interrupted = False
            for outcome in settled:  # every outcome of the batch is counted, a Ctrl-C or not
                outcomes.append(outcome)
                try:
                    self._record(outcome)
                except KeyboardInterrupt:
                    interrupted = True
            if interrupted:
                raise KeyboardInterrupt

        size = settings.SYNTHADMIN_BATCH_USERS
        # The first attempts' ledger ids, in one round trip: a batch's Auth users name their
        # entries (``app_metadata``) in the very transaction (local) that records them.
        self._entry_ids = dict(
            zip((job.spec.number for job in jobs), ledger.entry_ids_reserve(len(jobs)), strict=True)
        )
        batches = [jobs[start : start + size] for start in range(0, len(jobs), size)]
        workers = self.params.concurrency
        with watching(self.wind_down):  # tests only: what a signal or pause failpoint waits for
            if isinstance(self.gateway, BatchCreatingGateway):
                # The local backend creates a batch in the database's own transaction: batches
                # run side by side, one connection each.
                batch = functools.partial(self._batch_create, self.gateway)
                pool_run(batches, batch, workers=workers, stop=self.stop, on_result=collect)
            else:
                # One Auth call per user: the calls of every batch on one pool that never waits
                # at a batch boundary (intents ahead, rows behind: ``services.auth_batches``).
                steps = BatchSteps(
                    prepare=self._batch_prepare,
                    commit=self._batch_intents,
                    call=self._auth_call,
                    finish=self._batch_finish,
                    skip=outcomes_skipped,
                )
                auth_batches_run(batches, steps, workers=workers, stop=self.stop, on_result=collect)
        return outcomes

    def _record(self, outcome: Outcome) -> None:
        """Count one user's outcome; decide whether the run must stop."""
        self.retries.update(outcome.retries)
        ledger.run_heartbeat(self.run)
        self._watch(outcome)
        error = outcome.error
        if outcome.skipped:
            return
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
        self.progress.advance(PHASE_USERS)  # last: a Ctrl-C while the bar is drawn loses no count

    def _watch(self, outcome: Outcome) -> None:
        """What an outcome says about the run (any thread: a batch's Auth calls are watched as
        they end, so a run whose Auth is lost stops a few users in, not a batch later)."""
        with self._watch_lock:
            error = outcome.error
            if stops_the_run(error):
                self._diagnose(str(error))  # a rejected key or an unusable answer: nothing will work
            elif isinstance(error, DatabaseError) and connection_lost(error):
                self.database_lost = self.database_lost or error
                self._diagnose(f"the database connection was lost ({type(error).__name__})")
            if outcome.watched:
                return  # its Auth call already counted in the streak
            outcome.watched = True
            kind = type(error) if isinstance(error, AuthUnavailableError | AuthDatabaseRefusedError) else None
            same = kind is not None and kind is self.streak[0]
            count = self.streak[1] + 1 if same else int(kind is not None)
            self.streak = (kind, count)
            if count >= STREAK_LIMIT:
                self._diagnose(streak_diagnosis(error, count))

    def _diagnose(self, diagnosis: str) -> None:
        """The first diagnosis stays; the run winds down."""
        if not self.diagnosis:
            self.diagnosis = diagnosis
        self.wind_down.set()

    def _create_user(
        self, job: Job, outcome: Outcome | None = None, first: int = 1, identity: Identity | None = None
    ) -> Outcome:
        """All attempts at one user, from attempt ``first`` (with ``identity``, when a batch
        drew it): a fresh identity after a collision, at most 3 in all."""
        outcome = outcome or Outcome(job=job)
        identity_attempts = Retrying(
            stop=stop_after_attempt(IDENTITY_ATTEMPTS - first + 1),
            retry=retry_if_exception_type(IdentityCollisionError),
            reraise=True,
        )
        try:
            for attempt in identity_attempts:
                with attempt:
                    if self.wind_down.is_set():
                        raise NotStarted
                    number = first - 1 + attempt.retry_state.attempt_number
                    drawn = identity if number == first else None
                    outcome.user_id, outcome.checkins = self._attempt(job, number, outcome.retries, drawn)
        except NotStarted:
            outcome.skipped = True
        except (AuthGatewayError, RowsNotWritten, DatabaseError) as exc:
            outcome_failed(outcome, exc)
        return outcome

    def _identity(self, job: Job, number: int) -> Identity:
        return Identity(
            user_id=new_user_id(),
            email=job.spec.email(number),
            # A password only when someone will log in with it (a credentials sink); 262 bits.
            password=password_new() if self.credentials is not None else None,
        )

    def _batch_create(self, gateway: BatchCreatingGateway, jobs: list[Job]) -> list[Outcome]:
        """One batch on a batch-creating gateway, top to bottom: its intents and Auth users in
        one transaction, then its rows in another. What fails falls back to one user at a
        time; outcomes in job order."""
        tried = self._batch_prepare(jobs)
        if tried is None:
            return outcomes_skipped(jobs)
        failpoint(BEFORE_AUTH_CREATE)  # tests only: a stop before the batch's transaction
        created = self._batch_auth_local(gateway, tried, self._intents(tried))
        failpoint(AFTER_AUTH_CREATE)  # tests only: the batch's Auth users exist, no rows yet
        if created:
            self._batch_rows(created)
        failpoint(GENERATE_AFTER_BATCH)  # tests only: a batch committed, the next not started
        return [t.outcome for t in tried]

    def _batch_prepare(self, jobs: list[Job]) -> list[Tried] | None:
        """A batch's users with their first identities and intent entries (unsaved), in job
        order; None when the run winds down (the batch is not started)."""
        if self.wind_down.is_set():
            return None
        tried = [Tried(job, self._identity(job, 1), Outcome(job=job)) for job in jobs]
        for t in tried:
            t.entry = SyntheticUser(
                pk=self._entry_ids[t.job.spec.number],
                run=self.run,
                user_id=t.identity.user_id,
                email=t.identity.email,
            )
        return tried

    def _intents(self, tried: list[Tried]) -> Statement:
        return ledger.entries_intent_statement(
            run=self.run,
            intents=[
                ledger.Intent(
                    entry_id=t.entry.pk,
                    user_id=t.identity.user_id,
                    email=t.identity.email,
                    role=t.job.spec.role,
                    attempt=1,
                    job_index=t.job.spec.number,
                    name=t.job.spec.full_name,
                )
                for t in tried
            ],
        )

    def _batch_intents(self, tried: list[Tried]) -> None:
        """A batch's intents committed (one round trip), before any of its Auth calls."""
        ledger.entries_intent(self._intents(tried))
        failpoint(GENERATE_BATCH_INTENTS)  # tests only: intents committed, no Auth user yet

    def _batch_finish(self, _jobs: list[Job], tried: list[Tried]) -> list[Outcome]:
        """After a batch's last Auth call: those never sent recorded so, the rows of those
        created in one transaction; the batch's outcomes, in job order."""
        not_sent = [t for t in tried if t.not_sent]
        if not_sent:  # the run wound down before their calls: never tried, no failure
            ledger.entries_not_sent([t.entry.pk for t in not_sent], "stopped before the Auth call")
        failpoint(AFTER_AUTH_CREATE)  # tests only: the batch's Auth users exist, no rows yet
        created = [t for t in tried if t.made]
        if created:
            self._batch_rows(created)
        failpoint(GENERATE_AFTER_BATCH)  # tests only: a batch committed, the next not started
        return [t.outcome for t in tried]

    def _batch_auth_local(
        self, gateway: BatchCreatingGateway, tried: list[Tried], intents: Statement
    ) -> list[Tried]:
        """Intents and Auth rows of the batch in one transaction (the Auth user never exists
        without its intent); should it fail, nothing of it is written, and its users are
        created one at a time, each from its own intent (``_create_user``). Those created."""
        try:
            gateway.create_users(
                [self._new_auth_user(t.entry, t.identity, t.job.spec) for t in tried], first=[intents]
            )
        except AuthGatewayError:
            for t in tried:  # nothing of the batch was made: one by one, to find out who and why
                self._create_user(t.job, t.outcome, identity=t.identity)
            return []
        return tried

    def _auth_call(self, tried: Tried) -> None:
        """One user's first Auth call of a batch; watched at once (a lost Auth stops the run)."""
        tried.made = self._auth_first(tried)
        if not tried.outcome.skipped:
            self._watch(tried.outcome)

    def _auth_first(self, tried: Tried) -> bool:
        """A user's first Auth attempt, alone: True when its Auth user exists (its rows still
        to write). After a collision the user's next attempts are made one at a time."""
        if self.wind_down.is_set():
            tried.not_sent = tried.outcome.skipped = True
            return False
        failpoint(BEFORE_AUTH_CREATE)  # tests only: a stop with the intent recorded, nothing sent
        try:
            self._auth_create(tried.entry, tried.identity, tried.job.spec, tried.outcome.retries)
        except IdentityCollisionError:
            self._create_user(tried.job, tried.outcome, first=2)
            return False
        except (AuthGatewayError, DatabaseError) as exc:  # a database lost while recording it
            outcome_failed(tried.outcome, exc)
            return False
        return True

    def _batch_rows(self, created: list[Tried]) -> None:
        """The rows of the users whose Auth users exist, in one transaction; should the database
        refuse it, each user in a transaction of its own (one bad user costs only itself)."""
        try:
            written = users_rows_write(
                target=self.target,
                users=[
                    UserRows(
                        profile=profile_row(t.job, t.identity),
                        ledger_id=t.entry.pk,
                        history=history_builder(self.params, t.job),
                    )
                    for t in created
                ],
            )
        except DatabaseError as exc:
            # A lost database: nothing can be written or recorded; the intents stay, and purge
            # finds each Auth user by its marker. Else one user at a time, to find out who.
            for t in created:
                if connection_lost(exc):
                    outcome_failed(t.outcome, exc)
                else:
                    self._rows_alone(t)
            return
        for t in created:
            t.outcome.user_id, t.outcome.checkins = t.identity.user_id, written[t.entry.pk]
            self._created(t.job, t.identity, t.outcome.checkins)

    def _rows_alone(self, tried: Tried) -> None:
        """One user's rows in a transaction of its own (compensated on failure)."""
        outcome = tried.outcome
        try:
            written = self._rows_write(tried.entry, tried.identity, tried.job, outcome.retries)
        except DuplicateUserIdError:
            self._create_user(tried.job, outcome, first=2)  # its id was taken: a fresh identity
        except (RowsNotWritten, DatabaseError, AuthGatewayError) as exc:
            outcome_failed(outcome, exc)
        else:
            outcome.user_id, outcome.checkins = tried.identity.user_id, written
            self._created(tried.job, tried.identity, written)

    def _attempt(
        self, job: Job, number: int, retries: Counter[str], identity: Identity | None = None
    ) -> tuple[uuid.UUID, int]:
        """One attempt, top to bottom: intent, Auth user, rows (or compensation)."""
        spec = job.spec
        identity = identity or self._identity(job, number)
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
        self._created(job, identity, written)
        return identity.user_id, written

    def _created(self, job: Job, identity: Identity, written: int) -> None:
        """A user's rows are written: its login to the sink, its check-ins to the progress bar."""
        if self.credentials is not None and identity.password is not None:
            self.credentials(
                Credential(
                    email=identity.email,
                    password=identity.password,
                    role=job.spec.role,
                    user_id=identity.user_id,
                )
            )
        if written:
            self.progress.advance(PHASE_CHECKINS, written)

    def _auth_create(
        self, entry: SyntheticUser, identity: Identity, spec: PersonSpec, retries: Counter[str]
    ) -> None:
        """Create the Auth user; on failure, record in the ledger what the failure proves."""
        new_user = self._new_auth_user(entry, identity, spec)

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

    def _new_auth_user(self, entry: SyntheticUser, identity: Identity, spec: PersonSpec) -> NewAuthUser:
        return NewAuthUser(
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

    def _create_or_stop(self, new_user: NewAuthUser) -> object:
        """The gateway's create; an answer that stops the run stops it here, inside the call's
        permit, so that no other worker's call starts after it (one create call, not several)."""
        try:
            return self.gateway.create_user(new_user)
        except AuthRejectedError as exc:
            if stops_the_run(exc):
                self._diagnose(str(exc))
            raise

    def _rows_write(self, entry: SyntheticUser, identity: Identity, job: Job, retries: Counter[str]) -> int:
        """Profile, link, history and ground truth in one transaction; compensate on failure."""
        history = history_builder(self.params, job)
        rows, truth = history() if history is not None else (None, None)
        try:
            return user_rows_write(
                target=self.target,
                profile=profile_row(job, identity),
                checkins=rows,
                ledger_id=entry.pk,
                ground_truth=truth,
            )
        except (DuplicateUserIdError, DatabaseError) as exc:
            undone = self._compensate(entry, exc)
            if isinstance(exc, DuplicateUserIdError):
                retries["duplicate_id"] += 1
                raise
            what = "Auth user deleted again" if undone else "its Auth user is left for purge to delete"
            raise RowsNotWritten(f"database write failed, {what}: {type(exc).__name__}: {exc}") from exc

    def _compensate(self, entry: SyntheticUser, cause: BaseException) -> bool:
        """Delete the Auth user whose database rows could not be written — also after a stop:
        a stop starts no new work, it never keeps what was done from being undone (the call is
        not cancellable; the deadline still bounds it). False when the delete failed (the
        entry stays intent, named for purge)."""
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
            return False
        reason = redact(f"{type(cause).__name__}: {cause}")
        if isinstance(cause, DuplicateUserIdError):
            ledger.entry_collided(entry.pk, reason)
        else:
            ledger.entry_compensated(entry.pk, reason)
        return True


__all__ = ["IDENTITY_ATTEMPTS", "PHASE_CHECKINS", "PHASE_USERS", "Outcome", "UserCreation", "WindDown"]
