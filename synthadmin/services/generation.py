"""Generate a synthetic population: the one service behind the admin form and the command.

For each user, in order:

1. an **intent record** (``SyntheticUser``, state ``intent``) is committed, so that a crash or
   Ctrl-C between the two systems leaves something ``synthetic_purge`` can find and finish;
2. the **Auth user** is created through the gateway with our own ``uuid4`` as its id
   (transient failures: exponential backoff with jitter; identity collisions: a fresh e-mail or
   id, at most 3 attempts in all; a rejected key or request stops the whole run);
3. the **database rows** (profile, and for a patient its whole check-in history) are written in
   one transaction, which also marks the intent ``complete``. If that transaction fails, the
   Auth user is deleted again (the compensating action).

At most ``concurrency`` Auth calls (default 4) are in flight at once; twice as many worker
threads keep those slots busy while other users' rows are written. Therapists come first,
since patients reference them.
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
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

from synthadmin.auth import AuthGateway, NewAuthUser, get_gateway
from synthadmin.auth.base import APP_METADATA_KEY
from synthadmin.exceptions import (
    AuthGatewayError,
    AuthRejectedError,
    AuthUnavailableError,
    DuplicateEmailError,
    DuplicateUserIdError,
    IdentityCollisionError,
)
from synthadmin.failpoints import AFTER_AUTH_CREATE, failpoint
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services import ledger
from synthadmin.services.ground_truth import ground_truth_of
from synthadmin.services.population import (
    PersonSpec,
    patient_history,
    population_build,
    therapist_assignment,
)
from synthadmin.services.reports import Credential, NullProgress, ProgressListener, RunReport, UserFailure
from synthadmin.services.requests import GenerationRequest, generation_request_validate
from synthadmin.services.retrying import transient_retrying
from synthadmin.services.threads import pool_run
from synthadmin.services.writer import ProfileRow, user_rows_write
from synthadmin.target import Target, target_get

logger = logging.getLogger(__name__)

#: Identity collisions (duplicate e-mail / id): at most this many attempts per user, in all.
IDENTITY_ATTEMPTS = 3

#: Where user ids come from: our own uuid4, the same id for Auth user and profile.
new_user_id: Callable[[], uuid.UUID] = uuid.uuid4

#: After this many users in a row found the Auth service unavailable (each after its own
#: retries), the run stops: the service is down, and every further user would wait as long.
UNAVAILABLE_STREAK_LIMIT = 3

PHASE_USERS = "auth users"
PHASE_CHECKINS = "check-ins"


@dataclass(frozen=True)
class Starter:
    """Who started a run: ``"staff:alice"`` (admin) or ``"os:deploy"`` (command)."""

    label: str
    user_id: int | None = None
    source: str = SyntheticRun.Source.API


class _RunStopped(Exception):
    """Internal: the run was told to stop (Ctrl-C or a rejected request) before this user."""


@dataclass
class _Outcome:
    spec: PersonSpec
    user_id: uuid.UUID | None = None
    checkins: int = 0
    failure: str = ""
    abort: AuthRejectedError | None = None
    unavailable: AuthUnavailableError | None = None
    skipped: bool = False  # not started: the run was stopping
    retries: Counter = field(default_factory=Counter)


def synthetic_generate(
    *,
    request: GenerationRequest,
    started_by: Starter,
    gateway: AuthGateway | None = None,
    progress: ProgressListener | None = None,
    credentials: Callable[[Credential], None] | None = None,
    stop: threading.Event | None = None,
) -> RunReport:
    """Create ``request.therapists`` therapists and ``request.patients`` patients with histories.

    Writes: one ``SyntheticRun``; per user an intent record, an Auth user, a profile with
    ``is_test_patient = true`` and, for patients, ``request.checkin_days`` days of check-ins
    (fewer, by adherence). Never touches a row it did not create.

    Returns the run report; its status is ``succeeded``, ``partial`` (some users failed after
    retries — each failure is listed with its reason), ``failed`` (a rejected key or request,
    or an Auth service that stayed unavailable, stopped the run; the report says why) or
    ``aborted`` (Ctrl-C or ``stop`` set: in-flight users were finished or compensated, none
    was left half-written).

    Raises InvalidRequestError for a bad parameter and ConfigurationError for a gateway that
    cannot work, both before anything is written. ``credentials`` receives each created user's
    login (e-mail, password); without it no password is made: like GoTrue given none, each user
    gets one that nobody knows.
    """
    request = generation_request_validate(request)
    own_gateway = gateway is None
    gateway = gateway or get_gateway()
    try:
        runner = _Runner(
            request=request,
            gateway=gateway,
            progress=progress or NullProgress(),
            credentials=credentials,
            stop=stop or threading.Event(),
        )
        return runner.run(started_by)
    finally:
        if own_gateway:
            gateway.close()


class _Runner:
    def __init__(
        self,
        *,
        request: GenerationRequest,
        gateway: AuthGateway,
        progress: ProgressListener,
        credentials: Callable[[Credential], None] | None,
        stop: threading.Event,
    ) -> None:
        self.request = request
        self.gateway = gateway
        self.progress = progress
        self.credentials = credentials
        self.stop = stop
        self.user_interrupted = False
        self.abort: AuthRejectedError | AuthUnavailableError | None = None
        self.unavailable_streak = 0
        self.auth_slots = threading.BoundedSemaphore(request.concurrency)
        self.retries: Counter = Counter()
        self.failures: list[UserFailure] = []
        self.created: Counter = Counter()
        self.checkins = 0
        self.crash: BaseException | None = None
        self.run: SyntheticRun
        self.target: Target

    # --- orchestration -------------------------------------------------------------------
    def run(self, started_by: Starter) -> RunReport:
        request = self.request
        began = time.monotonic()
        # The shape of the database, read once for the whole run (docs/target-schema.md).
        self.target = target_get(refresh=True)
        self.run = SyntheticRun.objects.create(
            kind=SyntheticRun.Kind.GENERATE,
            source=started_by.source,
            started_by=started_by.label,
            started_by_user_id=started_by.user_id,
            parameters=request.as_parameters(),
            seed=request.seed,
            auth_backend=self.gateway.name,
        )
        try:
            therapists, patients = population_build(
                seed=request.seed,
                run_tag=self.run.tag,
                therapists=request.therapists,
                patients=request.patients,
                locale=request.locale,
                email_domain=settings.SYNTHADMIN_EMAIL_DOMAIN,
            )
            self.progress.phase(PHASE_USERS, len(therapists) + len(patients))
            if patients and request.checkin_days:
                self.progress.phase(PHASE_CHECKINS, None)
            therapist_ids = [
                o.user_id for o in self._create_all(therapists, self._therapist_job) if o.user_id
            ]
            if not self.stop.is_set():
                assignment = therapist_assignment(len(patients), therapist_ids)
                jobs = list(zip(patients, range(len(patients)), assignment, strict=True))
                self._create_all(jobs, self._patient_job)
        except KeyboardInterrupt:
            self.user_interrupted = True
            self.stop.set()
        except BaseException as exc:
            self.crash = exc
            raise
        finally:
            report = self._finish(time.monotonic() - began)
        return report

    def _create_all(self, jobs: list[Any], job: Callable[[Any], _Outcome]) -> list[_Outcome]:
        """Run ``job`` over ``jobs`` on the worker pool; outcomes are recorded in this thread."""
        outcomes: list[_Outcome] = []

        def collect(_item: Any, outcome: _Outcome) -> None:
            outcomes.append(outcome)
            self._record(outcome)

        # Twice as many workers as Auth slots: while some users wait on Auth, others write
        # their rows, so the slots stay busy. Auth calls themselves never exceed the limit.
        workers = 2 * self.request.concurrency
        if pool_run(jobs, job, workers=workers, stop=self.stop, on_result=collect):
            self.user_interrupted = True
        return outcomes

    def _record(self, outcome: _Outcome) -> None:
        self.retries.update(outcome.retries)
        if outcome.abort is not None:
            if self.abort is None:
                self.abort = outcome.abort
            self.stop.set()
        self.unavailable_streak = self.unavailable_streak + 1 if outcome.unavailable else 0
        if self.unavailable_streak >= UNAVAILABLE_STREAK_LIMIT and self.abort is None:
            self.abort = AuthUnavailableError(
                f"the Auth service stayed unavailable for {self.unavailable_streak} users in a row "
                f"({outcome.unavailable}); check that SUPABASE_URL is right and reachable, then run again"
            )
            self.stop.set()
        if outcome.user_id is not None:
            self.created[outcome.spec.role] += 1
            self.checkins += outcome.checkins
            self.progress.advance(PHASE_USERS)
        elif not outcome.skipped:
            self.failures.append(
                UserFailure(email=outcome.spec.email(), role=outcome.spec.role, reason=outcome.failure)
            )
            self.progress.advance(PHASE_USERS)

    # --- one user ------------------------------------------------------------------------
    def _therapist_job(self, spec: PersonSpec) -> _Outcome:
        return self._create_user(spec, therapist_id=None, history_index=None)

    def _patient_job(self, item: tuple[PersonSpec, int, uuid.UUID | None]) -> _Outcome:
        spec, index, therapist_id = item
        return self._create_user(spec, therapist_id=therapist_id, history_index=index)

    def _create_user(
        self, spec: PersonSpec, *, therapist_id: uuid.UUID | None, history_index: int | None
    ) -> _Outcome:
        outcome = _Outcome(spec=spec)
        identity = Retrying(
            stop=stop_after_attempt(IDENTITY_ATTEMPTS),
            retry=retry_if_exception_type(IdentityCollisionError),
            reraise=True,
        )
        try:
            for attempt in identity:
                with attempt:
                    if self.stop.is_set():
                        raise _RunStopped
                    number = attempt.retry_state.attempt_number
                    outcome.user_id, outcome.checkins = self._attempt(
                        spec,
                        number,
                        therapist_id=therapist_id,
                        history_index=history_index,
                        retries=outcome.retries,
                    )
        except DuplicateEmailError as exc:
            outcome.user_id = None
            outcome.failure = f"e-mail already registered on all {IDENTITY_ATTEMPTS} attempts ({exc})"
        except DuplicateUserIdError as exc:
            outcome.user_id = None
            outcome.failure = f"user id already taken on all {IDENTITY_ATTEMPTS} attempts ({exc})"
        except AuthRejectedError as exc:
            outcome.user_id = None
            outcome.failure = str(exc)
            outcome.abort = exc
        except AuthUnavailableError as exc:
            outcome.user_id = None
            outcome.failure = f"Auth service unavailable after retries: {exc}"
            outcome.unavailable = exc
        except _UserWriteFailed as exc:
            outcome.user_id = None
            outcome.failure = str(exc)
        except _RunStopped:
            outcome.user_id = None
            outcome.skipped = True
        return outcome

    def _attempt(
        self,
        spec: PersonSpec,
        number: int,
        *,
        therapist_id: uuid.UUID | None,
        history_index: int | None,
        retries: Counter,
    ) -> tuple[uuid.UUID, int]:
        user_id = new_user_id()
        email = spec.email(number)
        # A password only when someone will log in with it (a credentials sink); 256 bits.
        password = secrets.token_urlsafe(32) if self.credentials is not None else None
        entry = ledger.entry_intent(
            run=self.run, user_id=user_id, email=email, role=spec.role, attempt=number
        )
        new_user = NewAuthUser(
            id=user_id,
            email=email,
            password=password,
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
        try:
            self._auth_create(new_user, retries)
        except IdentityCollisionError as exc:
            retries["duplicate_email" if isinstance(exc, DuplicateEmailError) else "duplicate_id"] += 1
            ledger.entry_collided(entry.pk, str(exc))
            raise
        except AuthGatewayError as exc:
            ledger.entry_failed([entry.pk], str(exc))
            raise

        failpoint(AFTER_AUTH_CREATE)  # tests only: a crash between the two systems
        profile = ProfileRow(
            id=user_id, email=email, username=spec.username, role=spec.role, therapist_id=therapist_id
        )
        rows = None
        truth = None
        if history_index is not None and self.request.checkin_days:
            history = patient_history(
                seed=self.request.seed,
                patient_index=history_index,
                pattern=self.request.pattern,
                days=self.request.checkin_days,
                end_date=self.request.end_date,
                adherence=self.request.adherence,
            )
            rows = history.iter_json_rows()
            truth = ground_truth_of(history)
        try:
            written = user_rows_write(
                target=self.target, profile=profile, checkins=rows, ledger_id=entry.pk, ground_truth=truth
            )
        except (DuplicateUserIdError, DatabaseError) as exc:
            self._compensate(entry, exc)
            if isinstance(exc, DuplicateUserIdError):
                retries["duplicate_id"] += 1
                raise
            raise _UserWriteFailed(
                f"database write failed, Auth user deleted again: {type(exc).__name__}: {exc}"
            ) from exc
        if self.credentials is not None and password is not None:
            self.credentials(Credential(email=email, password=password, role=spec.role, user_id=user_id))
        if written:
            self.progress.advance(PHASE_CHECKINS, written)
        return user_id, written

    def _in_auth_slot(self, call: Callable[..., Any], *args: Any) -> Any:
        """One Auth call, holding one of the ``concurrency`` slots (not while backing off)."""
        with self.auth_slots:
            return call(*args)

    def _auth_create(self, new_user: NewAuthUser, retries: Counter) -> None:
        def count(_state: object) -> None:
            retries["transient"] += 1

        transient_retrying(on_retry=count)(self._in_auth_slot, self.gateway.create_user, new_user)

    def _compensate(self, entry: SyntheticUser, cause: BaseException) -> None:
        """Delete the Auth user whose database rows could not be written."""
        try:
            transient_retrying()(self._in_auth_slot, self.gateway.delete_user, entry.user_id)
        except AuthGatewayError as exc:
            # The intent record stays: synthetic_purge will find the Auth user and finish.
            ledger.entry_pending(
                entry.pk,
                f"database write failed ({type(cause).__name__}); deleting the Auth user also failed "
                f"({exc}); purge this run to finish",
            )
            logger.error("could not delete Auth user %s after a failed write: %s", entry.user_id, exc)
            return
        reason = f"{type(cause).__name__}: {cause}"
        if isinstance(cause, DuplicateUserIdError):
            ledger.entry_collided(entry.pk, reason)
        else:
            ledger.entry_compensated(entry.pk, reason)

    # --- the end ---------------------------------------------------------------------------
    def _finish(self, duration: float) -> RunReport:
        run = self.run
        created_users = self.created["patient"] + self.created["therapist"]
        if self.crash is not None:
            status = SyntheticRun.Status.FAILED
            error = f"unexpected error: {type(self.crash).__name__}: {self.crash}"
        elif self.user_interrupted:
            status = SyntheticRun.Status.ABORTED
            error = "interrupted by the user; users in flight were finished or compensated"
        elif self.abort is not None:
            status = SyntheticRun.Status.FAILED
            error = f"stopped: {self.abort}"
        elif self.failures and created_users == 0:
            status = SyntheticRun.Status.FAILED
            error = self.failures[0].reason
        elif self.failures:
            status = SyntheticRun.Status.PARTIAL
            error = f"{len(self.failures)} user(s) failed after retries; first: {self.failures[0].reason}"
        elif self.stop.is_set():
            status = SyntheticRun.Status.ABORTED
            error = "stopped before all users were created"
        else:
            status = SyntheticRun.Status.SUCCEEDED
            error = ""
        run.status = status
        run.patients_created = self.created["patient"]
        run.therapists_created = self.created["therapist"]
        run.checkins_created = self.checkins
        run.users_failed = len(self.failures)
        run.retries = dict(self.retries)
        run.error_summary = error
        run.finished_at = timezone.now()
        run.save()
        return RunReport(
            run_id=run.id,
            status=str(status),
            kind=str(run.kind),
            seed=run.seed,
            parameters=run.parameters,
            patients_created=run.patients_created,
            therapists_created=run.therapists_created,
            checkins_created=run.checkins_created,
            retries=dict(self.retries),
            failures=list(self.failures),
            error=error,
            duration_seconds=round(duration, 3),
            auth_backend=run.auth_backend,
        )


class _UserWriteFailed(Exception):
    """Internal: a user's database rows could not be written (its Auth user was deleted)."""
