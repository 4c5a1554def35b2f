"""What one attempt at a user is and what came of it: its identity, a batch's user, its outcome.

Values of ``services.user_creation`` (which creates users) and of the batch stages it runs.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field

from synthadmin.models import SyntheticUser
from synthadmin.redaction import redact
from synthadmin.services.creation_failures import failure_reason
from synthadmin.services.jobs import Job
from synthadmin.services.writer import ProfileRow


@dataclass(frozen=True)
class Identity:
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
    watched: bool = False  # its Auth outcome is counted in the run's streak (``_watch``)


class NotStarted(Exception):
    """The run is winding down; this user is not started."""


class RowsNotWritten(Exception):
    """The user's database rows could not be written (its Auth user was deleted)."""


@dataclass
class Tried:
    """A user of a batch: its first identity, its intent entry (unsaved copy), its outcome."""

    job: Job
    identity: Identity
    outcome: Outcome
    entry: SyntheticUser = field(default_factory=SyntheticUser)
    not_sent: bool = False
    made: bool = False  # its first Auth call created its Auth user (its rows still to write)


def profile_row(job: Job, identity: Identity) -> ProfileRow:
    spec = job.spec
    return ProfileRow(
        id=identity.user_id,
        email=identity.email,
        username=spec.username,
        role=spec.role,
        therapist_id=job.therapist_id,
    )


def outcomes_skipped(jobs: list[Job]) -> list[Outcome]:
    """The outcomes of a batch the run never started (it was winding down)."""
    return [Outcome(job=job, skipped=True) for job in jobs]


def outcome_failed(outcome: Outcome, exc: BaseException) -> None:
    """What ended a user's attempts, on its outcome."""
    outcome.error = exc.__cause__ if isinstance(exc, RowsNotWritten) else exc
    outcome.failure = redact(failure_reason(exc))


__all__ = [
    "Identity",
    "NotStarted",
    "Outcome",
    "RowsNotWritten",
    "Tried",
    "outcome_failed",
    "outcomes_skipped",
    "profile_row",
]
