"""Exports and the services that change a run's rows keep out of each other's way.

An export reads in short transactions (``services.export``), so what keeps its file consistent
is that the rows it reads do not change while it runs. A finished run's rows change only
through synthadmin's own purge (``services.purge``) and its two ways of adding check-in days
(``services.backfill``, ``services.extend_today``); a run still in progress is exported as it
stands, and the export says it is partial.

So both sides take, for as long as they run, a **session-level PostgreSQL advisory lock** on
every run involved (``pg_advisory_lock_shared``; a lock, not a transaction: no snapshot is held
and the session is never idle in a transaction while it waits for a slow reader):

* an export of a generate run: that run; of an "Add check-in days" run: that run and the
  generate runs of the patients it extended; ``--all``: the key of every run (``EVERY_RUN``);
* a purge or an extend (``changes_runs``): the run it names, the generate runs of every patient
  whose rows it may change, and ``EVERY_RUN``.

Each side shares with its own kind (two downloads of one run at once; two purges) and excludes
the other: whoever comes second is **refused at once** with :class:`RunBusyError` (nothing
changed, nothing written; try again when the other ends) — a purge does not wait behind a
download whose reader is slow, and an export never waits for a purge. The check is race-free:
each side first takes its own shared lock on a key, then tries the other side's lock on it
exclusively (and lets it go at once); if both come at the same instant both may be refused,
never both let through.

The locks are PostgreSQL's two-key form, ``(side, key)``: ``side`` is :data:`EXPORTING` or
:data:`CHANGING`, ``key`` 32 bits of the run id (a collision only makes two runs wait on each
other). They go when released or with the session (a killed process, a lost connection).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Collection, Iterable
from typing import Any, ParamSpec, TypeVar

from django.db import DatabaseError, connection
from django.db.models import Q

from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import LIVE_STATES, CheckinAddition, SyntheticRun, SyntheticUser

P = ParamSpec("P")
R = TypeVar("R")

#: The two sides of the lock (the first of PostgreSQL's two advisory-lock keys).
EXPORTING = 0x5E_0E_C5_01
CHANGING = 0x5E_0E_C5_02
#: The key that stands for every run: an export of every run holds it, and so does every change.
EVERY_RUN = 0

_SQL_TAKE = (
    # Our shared lock on each key first, then the other side's lock tried on it (and let go):
    # a key comes back when the other side holds it. MATERIALIZED keeps the order per key.
    "WITH held AS MATERIALIZED ("
    " SELECT k, pg_advisory_lock_shared(%s, k) FROM unnest(%s::int[]) AS k"
    ") SELECT k FROM held WHERE NOT CASE WHEN pg_try_advisory_lock(%s, k) "
    "THEN pg_advisory_unlock(%s, k) ELSE false END"
)
_SQL_RELEASE = "SELECT count(pg_advisory_unlock_shared(%s, k)) FROM unnest(%s::int[]) AS k"


class RunBusyError(InvalidRequestError):
    """The other side holds a run: an export while it is being purged or extended, or a purge or
    an extend while it is being exported. Nothing was changed or written; ``run_id`` is the run
    (None: every run)."""

    def __init__(self, message: str, *, run_id: uuid.UUID | None, field: str = "run") -> None:
        super().__init__(message, field=field)
        self.run_id = run_id


def run_key(run_id: uuid.UUID) -> int:
    """The lock key of a run: 32 bits of its id, as a signed ``int4``, never ``EVERY_RUN``."""
    key = uuid.UUID(str(run_id)).int & 0xFFFF_FFFF
    key = key - (1 << 32) if key >= 1 << 31 else key
    return key or 1


class RunHold:
    """Locks held on some runs by this thread's database session, until :meth:`release`."""

    def __init__(self, side: int, runs: dict[int, uuid.UUID | None]) -> None:
        self.side = side
        self.runs = runs
        self._held = False

    def take(self) -> RunHold:
        """Take the locks, or raise RunBusyError (holding nothing) when the other side has one."""
        other = CHANGING if self.side == EXPORTING else EXPORTING
        keys = sorted(self.runs)
        with connection.cursor() as cursor:
            cursor.execute(_SQL_TAKE, [self.side, keys, other, other])
            busy = [row[0] for row in cursor.fetchall()]
        self._held = True
        if busy:
            self.release()
            raise _busy(self.side, self.runs[sorted(busy)[0]])
        return self

    def release(self) -> None:
        """Let the locks go (once; a lost session has let them go already)."""
        if not self._held:
            return
        self._held = False
        try:
            with connection.cursor() as cursor:
                cursor.execute(_SQL_RELEASE, [self.side, sorted(self.runs)])
        except DatabaseError:
            pass  # the session is gone (and its locks with it), or its transaction failed


def export_hold(*, run: SyntheticRun | None) -> RunHold:
    """The locks an export of ``run`` (None: every run) holds while it reads; RunBusyError when
    one of those runs is being purged or extended."""
    if run is None:
        return RunHold(EXPORTING, {EVERY_RUN: None}).take()
    runs = {run.pk}
    if run.kind == SyntheticRun.Kind.EXTEND:
        runs |= _generate_runs(Q(user_id__in=CheckinAddition.objects.filter(run=run).values("user_id")))
    return RunHold(EXPORTING, {run_key(r): r for r in runs}).take()


def change_hold(
    *, run: uuid.UUID | str | None = None, user_ids: Collection[uuid.UUID] | None = None
) -> RunHold:
    """The locks a purge or an extend holds while it changes rows: of ``run`` (and of the runs
    of its users and extended patients), of the runs of ``user_ids``, or — neither given — of
    every run. RunBusyError when one of them is being exported."""
    runs: set[uuid.UUID] = set()
    if run is not None:
        try:
            named = uuid.UUID(str(run))
        except ValueError:
            named = None  # not a run id: the service says so itself
        if named is not None:
            runs = {named} | _generate_runs(
                Q(user_id__in=SyntheticUser.objects.filter(run=named).values("user_id"))
                | Q(user_id__in=CheckinAddition.objects.filter(run=named).values("user_id"))
            )
    if user_ids is not None:
        runs |= _generate_runs(Q(user_id__in=list(user_ids)))
    if run is None and user_ids is None:
        runs = _generate_runs(Q(state__in=LIVE_STATES))
    keys: dict[int, uuid.UUID | None] = {run_key(r): r for r in runs}
    keys[EVERY_RUN] = None
    return RunHold(CHANGING, keys).take()


def changes_runs(service: Callable[P, R]) -> Callable[P, R]:
    """Run ``service`` (a purge or an extend, called with keywords) under :func:`change_hold` of
    what its ``run``, ``user_ids``/``patient_ids`` or ``all_patients`` select; not for a
    ``dry_run``, which changes nothing. Raises RunBusyError, before the service starts, when an
    export holds one of those runs."""

    @functools.wraps(service)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        if kwargs.get("dry_run"):
            return service(*args, **kwargs)
        for name in ("user_ids", "patient_ids"):
            selected = kwargs.get(name)
            if isinstance(selected, Iterable) and not isinstance(selected, list):
                kwargs[name] = list(selected)  # read once here, once by the service
        users: Any = kwargs.get("user_ids", kwargs.get("patient_ids"))
        run: Any = kwargs.get("run")
        hold = change_hold(run=run, user_ids=None if kwargs.get("all_patients") else users)
        try:
            return service(*args, **kwargs)
        finally:
            hold.release()

    return guarded


def _generate_runs(users: Q) -> set[uuid.UUID]:
    """The runs of the ledger entries of the users ``users`` selects (the runs that made them)."""
    return set(SyntheticUser.objects.filter(users).values_list("run_id", flat=True).distinct())


def _busy(side: int, run_id: uuid.UUID | None) -> RunBusyError:
    if side == EXPORTING:
        what = f"run {run_id} is" if run_id is not None else "synthetic patients are"
        return RunBusyError(
            f"{what} being purged or given check-in days right now; export when that is done",
            run_id=run_id,
            field="run" if run_id is not None else "all",
        )
    what = f"run {run_id} is" if run_id is not None else "every run is"
    return RunBusyError(
        f"{what} being exported right now (a download or export_synthetic); nothing was changed: "
        "try again when the export is done",
        run_id=run_id,
    )


__all__ = [
    "CHANGING",
    "EVERY_RUN",
    "EXPORTING",
    "RunBusyError",
    "RunHold",
    "change_hold",
    "changes_runs",
    "export_hold",
    "run_key",
]
