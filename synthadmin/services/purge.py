"""Remove synthetic users — and never anyone else, nor anything of anyone else.

Who is deleted (``synthadmin.selectors``): users synthadmin's ledger recorded creating —
``complete`` with a profile whose ``is_test_patient`` is true, or, for an attempt that never
completed (a crash between Auth and the database, where a signup trigger may have made an
unflagged profile), an Auth user whose ``app_metadata`` marker names that run and ledger entry.

What deleting them would take along is computed from the catalog first
(``synthadmin.services.cascade``): a user whose delete would remove or change a row that also
belongs to a real user (a real patient's therapist link, a note about her, a table synthadmin
never saw), or that a foreign key without cascade would block, is left alone and named with the
table and the number of rows. Deletion goes through the Auth gateway (a hard delete, which
cascades to profile, check-ins, links), so Auth and database stay in step.

Round trips: who is deleted is decided for the whole selection in a few set-based reads (the
ledger, the profiles, the holds); then users go in batches of ``SYNTHADMIN_BATCH_USERS``. A
gateway that can delete a batch in the database's own transaction (the local backend:
``BatchDeletingGateway``) deletes the batch's ``auth.users`` rows and marks their ledger entries
``purged`` in one transaction, a few round trips whatever the batch's size; should it refuse
(a foreign key the catalog check did not see), the batch is rolled back and its users deleted
one by one, so that only the culprit stays. Otherwise (Supabase Auth: no bulk delete) each
user is one Auth call, concurrently through the flow controller, and the ledger entries of a
batch are marked in one statement while the next users' calls are in flight. A crash at any
point leaves what the next purge finishes: an Auth user deleted before its entry was marked
is looked up, found gone and its entry settled.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from checkins.models import CheckIn
from profiles.models import Profile
from synthadmin.auth import AuthGateway, gateway_in_use, gateway_service
from synthadmin.auth.flow import FlowController
from synthadmin.db.errors import sqlstate
from synthadmin.exceptions import (
    AuthCancelledError,
    AuthDeleteBlockedError,
    AuthGatewayError,
    AuthRejectedError,
    AuthUnavailableError,
)
from synthadmin.failpoints import (
    PURGE_AFTER_BATCH,
    PURGE_BATCH_AUTH_DELETED,
    PURGE_BEFORE_DELETES,
    failpoint,
)
from synthadmin.logs import run_logged
from synthadmin.models import LIVE_STATES, HeldLogin, SyntheticRun, SyntheticUser
from synthadmin.selectors import entries_live, marker_names, profile_is_synthetic
from synthadmin.services import ledger
from synthadmin.services.additions_purge import AdditionsRemoval, additions_close, checkin_additions_remove
from synthadmin.services.cascade import BLOCKED, Hold, deletion_holds
from synthadmin.services.logins import logins_expire
from synthadmin.services.preflight import auth_preflight
from synthadmin.services.reports import NullProgress, ProgressListener, PurgeReport
from synthadmin.services.retrying import STREAK_LIMIT, transient_retrying
from synthadmin.services.run_locks import changes_runs
from synthadmin.services.threads import pool_run
from synthadmin.target import target_get

T = TypeVar("T")

#: After this many users in a row found the Auth service unavailable, purge stops.
UNAVAILABLE_STREAK_LIMIT = STREAK_LIMIT

#: How old the catalog purge computes its holds from may be (seconds): the one a command's
#: checks have just read is used, a web or worker process's older one is read again.
CATALOG_MAX_AGE_SECONDS = 10.0
#: SQLSTATEs saying the catalog changed since it was read: undefined table, undefined column.
CATALOG_CHANGED = frozenset({"42P01", "42703"})

#: The purge's one progress phase: users settled (deleted, blocked or failed) of those to delete.
PHASE_DELETE = "users"


@runtime_checkable
class BatchDeletingGateway(Protocol):
    """A gateway that deletes many users in one statement of the caller's database transaction
    (``LocalAuthGateway.delete_users``): the ids that existed."""

    def delete_users(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]: ...


@dataclass
class _User:
    """One user of the ledger, with what purge learned about it."""

    user_id: uuid.UUID
    entries: list[SyntheticUser]
    profile: Profile | None
    error: str = ""
    blocked: str = ""
    deleted: bool = False
    #: Its Auth user is gone (deleted here, or by someone else first): its entries may be purged.
    settled: bool = False
    unavailable: bool = False
    abort: AuthRejectedError | None = None
    verdict: str = ""  # "", "delete", "gone", "foreign"
    notes: list[str] = field(default_factory=list)
    #: Its profile was set back to real: a real user by the rule, left in place.
    real_again: bool = False

    @property
    def last(self) -> SyntheticUser:
        return self.entries[-1]

    @property
    def email(self) -> str:
        return (self.profile.email if self.profile is not None else None) or self.last.email

    @property
    def complete(self) -> bool:
        return any(e.state == SyntheticUser.State.COMPLETE for e in self.entries)

    @property
    def entry_ids(self) -> list[int]:
        return [e.pk for e in self.entries]


@run_logged(lambda *args, **kwargs: kwargs.get("run"))
@changes_runs  # an export of the runs it changes refuses it, and the other way round
def synthetic_users_purge(
    *,
    run: uuid.UUID | None = None,
    user_ids: Iterable[uuid.UUID] | None = None,
    dry_run: bool = False,
    gateway: AuthGateway | None = None,
    stop: threading.Event | None = None,
    progress: ProgressListener | None = None,
) -> PurgeReport:
    """Delete the synthetic users of one run (``run``), of the given ``user_ids``, or of all runs.

    Writes: deletes Auth users (cascading to profiles, check-ins and whatever else references
    them with ON DELETE CASCADE) and marks their ledger entries ``purged``; resolves entries
    left ``intent`` by crashed runs (looking the id up through the gateway). With ``dry_run`` it
    deletes nothing and marks nothing (lookups still happen). Idempotent.

    Never deleted, and named in the report: profiles that are not test patients
    (``skipped_real``), users of ours whose delete would touch a real user's rows or whose
    profile was set back to real (``left_alone``), users a non-cascading foreign key would block
    (``blocked``). Counts only what this call deleted. A background run in progress is the
    caller's to stop first (``services.cancel.runs_purge`` does both). Raises ConfigurationError
    for an unusable gateway (``auth_preflight``, when there is a user to settle), before
    anything is written, and
    AuthRejectedError when the Auth service refuses the key part way. ``progress`` hears one
    phase, ``PHASE_DELETE`` ("users"), whose total is the users about to be deleted, advanced as
    each one is settled. Logins held for deleted users (``services.logins``) go with them.
    """
    stop = stop or threading.Event()
    requested = None if user_ids is None else {uuid.UUID(str(u)) for u in user_ids}
    with gateway_in_use(gateway, cancel=stop) as auth:
        entries = _entries_loaded(entries_live(run=run, user_ids=requested))
        if entries:  # users to settle: check Auth before anything is written (purge_preflight)
            auth_preflight(gateway=auth)
        if not dry_run:
            ledger.runs_reap_interrupted()  # a run whose process died is finished here
        users = _users(entries)
        flow = _flow(auth)
        to_delete = _classify(users, _Calls(auth, flow, stop))
        blocked = _holds_apply(to_delete)
        stopped_by = ""
        if not dry_run:
            _resolve(users.values())
            failpoint(PURGE_BEFORE_DELETES)  # tests only: a crash between two batch boundaries
            stopped_by = _delete_all(to_delete, _Calls(auth, flow, stop), progress or NullProgress())
    blocked += [f"{u.email}: {u.blocked}" for u in to_delete if u.blocked]
    aborts = [u.abort for u in users.values() if u.abort is not None]
    if aborts:
        raise aborts[0]
    # An "Add check-in days" run created no user: what it wrote is the check-ins it added (a run
    # with users is a generate run: it added none).
    added = checkin_additions_remove(run=run, dry_run=dry_run) if run is not None and not users else None
    # Extend runs whose every added check-in went with a user deleted here are done too.
    emptied = [] if dry_run else additions_close(u.user_id for u in to_delete if u.deleted)
    runs = sorted(
        {str(u.last.run_id) for u in users.values()} | ({str(run)} if run else set()) | set(emptied)
    )
    if not dry_run and not stop.is_set():
        _mark_runs_purged(runs)
    if not dry_run and HeldLogin.objects.exists():  # nothing held: a read, not a delete's transaction
        logins_expire()  # held logins of users no longer live go with them
    done = to_delete if dry_run else [u for u in to_delete if u.deleted]
    real, flagged = _not_ours(requested, set(users))
    left_alone, left_real = _left_in_place(users.values(), added)
    return PurgeReport(
        dry_run=dry_run,
        runs=runs,
        **_deleted_counts(done, added),
        intents_resolved=sum(1 for u in users.values() if u.verdict in ("gone", "foreign")),
        skipped_real=real,
        not_created_here=flagged,
        errors=[f"{u.email}: {u.error}" for u in users.values() if u.error],
        left_alone=left_alone,
        left_real=left_real,
        blocked=sorted(blocked),
        deleted_user_ids=sorted(str(u.user_id) for u in done),
        stopped_by=stopped_by,
    )


def _left_in_place(users: Iterable[_User], added: AdditionsRemoval | None) -> tuple[list[str], list[str]]:
    """The report's ``left_alone`` ("email: why") and, of those, ``left_real``: the users whose
    profile is real again (a run's patients whose added days stayed for that reason, too)."""
    noted = [u for u in users if u.notes]
    real_added = added.left_alone if added is not None else []
    return (
        sorted([f"{u.email}: {'; '.join(u.notes)}" for u in noted] + real_added),
        sorted([f"{u.email}: {'; '.join(u.notes)}" for u in noted if u.real_again] + real_added),
    )


def purge_preflight(
    *, run: uuid.UUID | None = None, user_ids: Iterable[uuid.UUID] | None = None, gateway: AuthGateway
) -> None:
    """When there are users to settle (each needs Auth: a lookup, a delete), check the Auth
    service first (``auth_preflight``), so that an unreachable Supabase or a refused key is one
    line before anything is cancelled, marked or deleted. Raises what ``auth_preflight`` raises.
    """
    if entries_live(run=run, user_ids=user_ids).exists():
        auth_preflight(gateway=gateway)


def _holds_apply(to_delete: list[_User]) -> list[str]:
    """Take the users whose delete the catalog says would touch another's rows off ``to_delete``:
    a foreign key that would block it is returned ("email: hold"), anything else noted on the
    user (left alone)."""
    holds = _holds([u.user_id for u in to_delete])
    blocked: list[str] = []
    for user in [u for u in to_delete if u.user_id in holds]:
        to_delete.remove(user)
        for hold in holds[user.user_id]:
            if hold.kind == BLOCKED:
                blocked.append(f"{user.email}: {hold}")
            else:
                user.notes.append(str(hold))
    return blocked


def _holds(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Hold]]:
    """``deletion_holds`` on the catalog as this process read it at most
    ``CATALOG_MAX_AGE_SECONDS`` ago (a command's system checks read it just before: no second
    read), read again when a table or column it names has gone since."""
    try:
        return deletion_holds(target_get(max_age=CATALOG_MAX_AGE_SECONDS), user_ids)
    except DatabaseError as exc:
        if sqlstate(exc) not in CATALOG_CHANGED:
            raise
    return deletion_holds(target_get(refresh=True), user_ids)


def _deleted_counts(done: list[_User], added: AdditionsRemoval | None) -> dict[str, int]:
    """The report's counts of what went: users, by role, and their check-ins (with the days an
    "Add check-in days" run had added)."""
    roles = Counter(u.last.role for u in done if u.profile is not None)
    return {
        "users_deleted": len(done),
        "patients_deleted": roles["patient"],
        "therapists_deleted": roles["therapist"],
        "checkins_deleted": sum(getattr(u.profile, "n_checkins", 0) for u in done if u.profile is not None)
        + (added.checkins_deleted if added is not None else 0),
    }


def intents_resolve(
    *, entries: Iterable[SyntheticUser], gateway: AuthGateway, stop: threading.Event
) -> dict[uuid.UUID, str]:
    """Settle ledger entries left ``intent`` (a background chunk run again after its worker died)
    the way purge does, without marking any run purged.

    Each Auth user is looked up: none → the entries are ``purged`` (nothing was left); ours (its
    ``app_metadata`` marker names the entry) → it is deleted and the entries ``purged``; someone
    else's → ``failed``. Returns ``{user_id: why}`` for those it could not settle (Auth did not
    answer, a real row holds it): their entries stay ``intent`` for purge. Raises
    AuthRejectedError when the Auth service refuses the key.
    """
    users = _users(
        _entries_loaded(SyntheticUser.objects.filter(pk__in=[e.pk for e in entries]).order_by("id"))
    )
    calls = _Calls(gateway, _flow(gateway), stop)
    to_delete = _classify(users, calls)
    holds = _holds([u.user_id for u in to_delete])
    for user in [u for u in to_delete if u.user_id in holds]:
        to_delete.remove(user)
        user.error = "; ".join(str(hold) for hold in holds[user.user_id])
    _resolve(users.values())
    _delete_all(to_delete, calls, NullProgress())
    aborts = [u.abort for u in users.values() if u.abort is not None]
    if aborts:
        raise aborts[0]
    return {u.user_id: u.error or u.blocked for u in users.values() if u.error or u.blocked}


def _entries_loaded(entries: QuerySet[SyntheticUser]) -> list[SyntheticUser]:
    """``entries``, each with what purge needs of its user's profile (``_users``), in one query."""
    profile = Profile.objects.filter(id=OuterRef("user_id"))
    checkins = (
        CheckIn.objects.filter(user_id=OuterRef("user_id"))
        .order_by()
        .values("user_id")
        .annotate(n=Count("pk"))
    )
    return list(
        entries.annotate(
            profile_found=Exists(profile),
            profile_email=Subquery(profile.values("email")[:1]),
            profile_role=Subquery(profile.values("role")[:1]),
            profile_flag=Subquery(profile.values("is_test_patient")[:1]),
            profile_checkins=Coalesce(Subquery(checkins.values("n")[:1]), 0),
        )
    )


def _users(entries: list[SyntheticUser]) -> dict[uuid.UUID, _User]:
    """The users of ``entries`` (loaded by ``_entries_loaded``), each with its profile as it is
    now (None: gone) and that profile's number of check-ins (``n_checkins``)."""
    grouped: dict[uuid.UUID, list[SyntheticUser]] = {}
    for entry in entries:
        grouped.setdefault(entry.user_id, []).append(entry)
    users: dict[uuid.UUID, _User] = {}
    for user_id, its_entries in grouped.items():
        row: Any = its_entries[-1]  # annotated by _entries_loaded
        profile = None
        if row.profile_found:
            profile = Profile(
                id=user_id, email=row.profile_email, role=row.profile_role, is_test_patient=row.profile_flag
            )
            profile.n_checkins = row.profile_checkins  # type: ignore[attr-defined]  # read by _deleted_counts
        users[user_id] = _User(user_id, its_entries, profile)
    return users


@dataclass(frozen=True)
class _Calls:
    """Every Auth call of one purge: one gateway, one flow controller, one stop event."""

    gateway: AuthGateway
    flow: FlowController
    stop: threading.Event

    def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        result: T = transient_retrying()(self.flow.call, fn, *args, cancel=self.stop)
        return result


def _classify(users: dict[uuid.UUID, _User], calls: _Calls) -> list[_User]:
    """Decide who is ours to delete; look Auth users up where the ledger alone cannot tell."""
    to_delete: list[_User] = []
    lookups: list[_User] = []
    for user in users.values():
        if user.complete and user.profile is not None:
            if profile_is_synthetic(user.profile):
                user.verdict = "delete"
                to_delete.append(user)
            else:
                user.real_again = True
                user.notes.append("its profile is no longer a test patient (is_test_patient is not true)")
        else:
            lookups.append(user)  # never completed, or its profile is gone: ask Auth
    pool_run(
        lookups,
        lambda user: _lookup(calls, user),
        workers=settings.SYNTHADMIN_AUTH_CONCURRENCY,
        stop=calls.stop,
        on_result=lambda _u, user: to_delete.append(user) if user.verdict == "delete" else None,
    )
    return to_delete


def _lookup(calls: _Calls, user: _User) -> _User:
    try:
        existing = calls(calls.gateway.get_user, user.user_id)
    except AuthRejectedError as exc:
        user.abort, user.error = exc, str(exc)
        return user
    except AuthGatewayError as exc:
        user.error = f"could not look the Auth user up: {exc}"
        return user
    if existing is None:
        user.verdict = "gone"
    elif marker_names(existing.app_metadata, user.entries):
        user.verdict = "delete"  # ours, whatever the profile (a signup trigger's) says
    else:
        user.verdict = "foreign"
    return user


def _resolve(users: Iterable[_User]) -> None:
    """Settle in the ledger the entries whose Auth user proved gone, or not ours: one statement
    for each."""
    gone: list[int] = []
    foreign: list[int] = []
    for user in users:
        if user.verdict == "gone":
            gone += user.entry_ids
        elif user.verdict == "foreign":
            foreign += user.entry_ids
    if gone:
        ledger.entries_purged(gone, "intent resolved: no Auth user was left behind")
    if foreign:
        ledger.entry_failed(foreign, "the id belongs to an Auth user synthadmin did not create; left alone")


def _delete_all(users: list[_User], calls: _Calls, progress: ProgressListener) -> str:
    """Delete ``users`` batch by batch; returns why it stopped part way (Auth unavailable), else
    ``""``. Users not reached are named "not attempted"."""
    progress.phase(PHASE_DELETE, len(users))
    if isinstance(calls.gateway, BatchDeletingGateway):
        stopped_by = _delete_in_batches(users, calls, calls.gateway, progress)
    else:
        stopped_by = _delete_each(users, calls, progress)
    for user in users:
        # Settled without a delete of ours (someone else's delete got there first) is done too.
        if not user.settled and not user.error and not user.abort and not user.blocked:
            user.error = "not attempted: purge stopped (run the same purge again to finish)"
    return stopped_by


def _delete_in_batches(
    users: list[_User], calls: _Calls, gateway: BatchDeletingGateway, progress: ProgressListener
) -> str:
    """Per batch, one transaction: its ``auth.users`` rows deleted (cascading to profiles and
    check-ins) and its ledger entries marked ``purged``. A batch the database refuses is rolled
    back and deleted one user at a time (``_delete_each``), which names who held it."""
    size = settings.SYNTHADMIN_BATCH_USERS
    for first in range(0, len(users), size):
        if calls.stop.is_set():
            return ""
        batch = users[first : first + size]
        try:
            with transaction.atomic():
                existed = gateway.delete_users([u.user_id for u in batch])
                failpoint(PURGE_BATCH_AUTH_DELETED)  # tests only: inside the batch's transaction
                ledger.entries_purged([pk for user in batch for pk in user.entry_ids])
        except AuthCancelledError:
            return ""
        except AuthGatewayError:  # rolled back: nothing of this batch went
            stopped_by = _delete_each(batch, calls, progress)
            if stopped_by:
                return stopped_by
            continue
        for user in batch:
            user.settled = True
            # Counted only when this call deleted it: a concurrent purge that got there first did.
            user.deleted = user.user_id in existed
        progress.advance(PHASE_DELETE, len(batch))
        failpoint(PURGE_AFTER_BATCH)  # tests only: a batch committed, the next not started
    return ""


def _delete_each(users: list[_User], calls: _Calls, progress: ProgressListener) -> str:
    """One Auth call per user, concurrently (workers that only talk to Auth); the ledger
    entries of each batch of deleted users are marked in one statement from this thread while
    the next calls are in flight. Returns why it stopped part way, else ``""``."""
    streak = 0
    stopped_by = ""
    streak_lock = threading.Lock()
    settled: list[_User] = []
    lost: list[DatabaseError] = []  # a mark the database refused: no new call, raised at the end

    def mark() -> None:
        if settled:
            failpoint(PURGE_BATCH_AUTH_DELETED)  # tests only: Auth users gone, entries not marked
            ledger.entries_purged([pk for user in settled for pk in user.entry_ids])
            settled.clear()
            failpoint(PURGE_AFTER_BATCH)

    def delete(user: _User) -> _User:
        """In the worker, as its call ends: the streak is counted before any worker takes
        another user, so at most the calls already in flight follow the one that reached it."""
        nonlocal streak, stopped_by
        _delete_one(calls, user)
        with streak_lock:
            streak = streak + 1 if user.unavailable else 0
            if streak >= UNAVAILABLE_STREAK_LIMIT and not stopped_by:
                calls.stop.set()
                diagnosis = f"the Auth service stayed unavailable for {streak} users in a row"
                stopped_by = f"{diagnosis} ({user.error})"
                user.error = f"{user.error}; purge stopped: {diagnosis}"
        return user

    def record(_item: _User, user: _User) -> None:
        progress.advance(PHASE_DELETE)
        if user.abort is not None:
            calls.stop.set()
        if user.settled:
            settled.append(user)
        if len(settled) >= settings.SYNTHADMIN_BATCH_USERS and not lost:
            try:
                mark()
            except DatabaseError as exc:  # the calls in flight end first (pool_run waits for them)
                lost.append(exc)
                calls.stop.set()

    try:
        pool_run(
            users,
            delete,
            workers=settings.SYNTHADMIN_AUTH_CONCURRENCY,
            stop=calls.stop,
            on_result=record,
        )
    finally:
        if not lost:
            mark()  # also when the pool stopped on an error: those deleted in Auth are marked
    if lost:
        raise lost[0]  # entries left unmarked are settled by the next purge (found gone)
    return stopped_by


def _delete_one(calls: _Calls, user: _User) -> _User:
    """Delete one Auth user (in a worker thread: no database work here, only the Auth call)."""
    if calls.stop.is_set():
        return user
    try:
        existed = calls(calls.gateway.delete_user, user.user_id)
    except AuthDeleteBlockedError as exc:
        user.blocked = str(exc)  # a foreign key the catalog check did not see (a row added since)
        return user
    except AuthCancelledError:
        return user
    except AuthRejectedError as exc:
        user.abort, user.error = exc, str(exc)
        return user
    except AuthUnavailableError as exc:
        user.unavailable, user.error = True, str(exc)
        return user
    except AuthGatewayError as exc:
        user.error = str(exc)
        return user
    user.settled = True
    # Counted only when this call deleted it: a concurrent purge that got there first did.
    user.deleted = existed
    return user


def _not_ours(requested: set[uuid.UUID] | None, ours: set[uuid.UUID]) -> tuple[list[str], list[str]]:
    """Selected profiles synthadmin has no record of creating, named, never touched (only what its
    ledger says it made is ever deleted): ``(real, flagged)`` — real users, and profiles flagged
    as test patients by hand or by another tool. One query."""
    if requested is None:
        return [], []
    real: list[str] = []
    flagged: list[str] = []
    for pk, email, is_test in Profile.objects.filter(id__in=list(requested - ours)).values_list(
        "id", "email", "is_test_patient"
    ):
        (flagged if is_test is True else real).append(email or str(pk))
    return sorted(real), sorted(flagged)


def _mark_runs_purged(runs: list[str]) -> None:
    """Mark purged, in one statement, those of ``runs`` none of whose users may still exist."""
    if not runs:
        return
    live = SyntheticUser.objects.filter(run_id=OuterRef("pk"), state__in=LIVE_STATES)
    SyntheticRun.objects.filter(pk__in=runs, purged_at__isnull=True).exclude(Exists(live)).update(
        purged_at=timezone.now()
    )


def _flow(gateway: AuthGateway) -> FlowController:
    """The admission control of a purge's Auth calls, naming the service they go to."""
    return FlowController(
        max_concurrency=settings.SYNTHADMIN_AUTH_CONCURRENCY, service=gateway_service(gateway)
    )
