"""Values the services hand back to adapters, and the progress interface they report through."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


class ProgressListener(Protocol):
    """Receives progress from a running service (the command draws bars; the admin ignores it)."""

    def run_started(self, run_id: uuid.UUID) -> None:
        """The service recorded its run (``run_id``): what it writes from now on belongs to it."""

    def phase(self, name: str, total: int | None) -> None:
        """A phase (``"auth users"``, ``"check-ins"``) starts; ``total`` may be unknown (None) or
        an expectation (check-ins: days x adherence per patient; the count may end either side)."""

    def advance(self, name: str, amount: int = 1) -> None:
        """``amount`` more units of phase ``name`` are done."""


class NullProgress:
    """A listener that ignores everything."""

    def run_started(self, run_id: uuid.UUID) -> None:
        pass

    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, name: str, amount: int = 1) -> None:
        pass


@dataclass(frozen=True)
class Credential:
    """A created user's login, handed to a credentials sink (never stored by synthadmin)."""

    email: str
    password: str = field(repr=False)
    role: str
    user_id: uuid.UUID


@dataclass(frozen=True)
class UserFailure:
    email: str
    role: str
    reason: str


@dataclass(frozen=True)
class RunReport:
    """The outcome of a generation run, as recorded in the run ledger."""

    run_id: uuid.UUID
    status: str
    kind: str
    seed: int
    parameters: dict[str, Any]
    patients_created: int
    therapists_created: int
    checkins_created: int
    retries: dict[str, int]
    failures: list[UserFailure]
    error: str
    duration_seconds: float
    auth_backend: str
    #: Patients created per mood pattern (one pattern, or the run's mix).
    patients_by_pattern: dict[str, int] = field(default_factory=dict)
    #: The flow controller's counters: how often Auth said 429, the concurrency it settled on.
    auth_flow: dict[str, Any] = field(default_factory=dict)
    #: The diagnosis that stopped the run part way (a rejected key, Auth unavailable or refusing
    #: rows for several users in a row, the database lost); empty when nothing did.
    stopped_by: str = ""
    #: Ledger entries of the run still ``intent`` once it ended: users whose Auth call's outcome
    #: is unknown, or whose undo failed; ``purge_synthetic --run`` settles them (0: none).
    users_unsettled: int = 0
    #: Who asked this run to stop through the database (Cancel on its page, or a purge of it);
    #: empty when nobody did. ``cancel_for_purge``: it was a purge, which then removes what the
    #: run made.
    cancelled_by: str = ""
    cancel_for_purge: bool = False
    #: An addition of check-in days (kind ``extend``): the patients that got their days whole.
    patients_extended: int = 0

    @property
    def users_failed(self) -> int:
        return len(self.failures)

    @property
    def purge_command(self) -> str:
        return f"python manage.py purge_synthetic --run {self.run_id}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["run_id"] = str(self.run_id)
        data["users_failed"] = self.users_failed
        data["purge_command"] = self.purge_command
        return data


@dataclass(frozen=True)
class PurgeReport:
    """What a purge deleted (or, in a dry run, would delete)."""

    dry_run: bool
    runs: list[str]
    users_deleted: int
    patients_deleted: int
    therapists_deleted: int
    checkins_deleted: int
    intents_resolved: int
    skipped_real: list[str]
    errors: list[str]
    #: Users of ours left in place, "email: why" (their delete would touch a real user's rows,
    #: or their profile was set back to real).
    left_alone: list[str] = field(default_factory=list)
    #: Of ``left_alone``: the lines of users whose profile was set back to real, who are real by
    #: the rule (their e-mails are shown only to staff who may see real patients).
    left_real: list[str] = field(default_factory=list)
    #: Users a foreign key without ON DELETE CASCADE keeps from being deleted, "email: by table".
    blocked: list[str] = field(default_factory=list)
    #: Selected profiles flagged as test patients that synthadmin did not create (no ledger
    #: entry: flagged by hand, or made by another tool): never deleted, named.
    not_created_here: list[str] = field(default_factory=list)
    #: Ids of the users this call deleted (a dry run: would delete).
    deleted_user_ids: list[str] = field(default_factory=list)
    #: Why the purge stopped part way (Auth unavailable for several users in a row); else empty.
    stopped_by: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
