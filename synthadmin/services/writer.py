"""The database half of creating users: profile (+ check-ins) in one transaction.

A batch of users (``users_rows_write``) goes in one transaction of a few round trips; one user
(``user_rows_write``) in one of its own — the way a batch the database refused is written again,
user by user. Check-ins go in with one ``COPY`` per batch (or per patient), streamed from the
content engine's JSON rows, never one INSERT per row and never a materialised list of the run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from psycopg import sql

from synthadmin.db.errors import UNIQUE_VIOLATION, constraint_name, sqlstate
from synthadmin.db.pipeline import Many, Statement, statements_pipelined
from synthadmin.exceptions import DuplicateUserIdError
from synthadmin.failpoints import GENERATE_BATCH_COPIED, ROWS_WRITE, failpoint
from synthadmin.models import SyntheticUser
from synthadmin.services import ledger
from synthadmin.target import PROFILES, Target

COPY_CHECKINS = (
    "COPY public.check_ins (user_id, checkin_date, sleep_data, mood_data, symptoms_data, "
    "risk_routine_data, appetite_impulse_data, meds_context_data) FROM STDIN"
)
#: Keep COPY blocks small: with 1 MiB blocks the client waits on the socket (performance notes).
COPY_BLOCK_BYTES = 32 * 1024

#: ``profiles.source`` of every user synthadmin creates: the app's own value for generated users
#: (its cleanup and user list filter on it; ``docs/target-schema.md``).
SOURCE_SYNTHETIC = "synthetic"

JsonRow = tuple[dt.date, str, str, str, str, str, str]


@dataclass(frozen=True)
class ProfileRow:
    """The profile synthadmin writes for a user it created (same id as the Auth user)."""

    id: uuid.UUID
    email: str
    username: str
    role: str
    therapist_id: uuid.UUID | None = None


def user_rows_write(
    *,
    target: Target,
    profile: ProfileRow,
    checkins: Iterable[JsonRow] | None,
    ledger_id: int,
    ground_truth: dict[str, Any] | None = None,
) -> int:
    """Write ``profile``, its therapist link and its check-ins, and complete the ledger entry: all or nothing.

    The profile carries ``is_test_patient = true`` and, where the column exists, ``source =
    'synthetic'``. Where a signup trigger of any shape already made the profile row (inside
    the Auth call, on insert or on confirmation), that row is taken over — it is ours: its id
    was new in Auth a moment ago and this attempt's ledger entry is still ``intent`` — else a
    row is inserted (``_profile_write``). The soft-delete columns are never written. The
    therapist link goes wherever ``target.therapist_link`` says (junction row, profile column,
    or nowhere).

    ``ground_truth`` (``services/ground_truth.py``) is stored on the ledger entry in the same
    transaction, so it always agrees with the check-ins. Returns the number of check-ins
    written. Raises DuplicateUserIdError when the profile id is taken by a row that is not ours
    (``profiles_pkey``); any other database error propagates unchanged. Either way, nothing of
    this user is left in the database.
    """
    try:
        with transaction.atomic():
            # The commit need not wait for its WAL flush: should the server crash and lose this
            # transaction, the intent record (committed durably before the Auth call) is still
            # there, and purge finds and deletes the Auth user. Saves a disk flush per user.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO off")
                _profile_write(cursor, target, profile, ledger_id)
                _therapist_link_write(cursor, target, profile)
            failpoint(ROWS_WRITE)  # tests only: a stop in the middle of the user's transaction
            written = checkins_copy(user_id=profile.id, rows=checkins) if checkins is not None else 0
            ledger.entry_complete(ledger_id, checkins=written, ground_truth=ground_truth)
    except IntegrityError as exc:
        # The whole transaction is gone either way; only the reason differs.
        if sqlstate(exc) == UNIQUE_VIOLATION and constraint_name(exc) == "profiles_pkey":
            raise DuplicateUserIdError(
                f"a profile with id {profile.id} already exists", code=UNIQUE_VIOLATION
            ) from exc
        raise
    return written


@dataclass(frozen=True)
class UserRows:
    """What ``users_rows_write`` writes for one user of a batch: its profile, its ledger entry
    and, for a patient, its history (built when the COPY reaches it: ``(rows, ground truth)``)."""

    profile: ProfileRow
    ledger_id: int
    history: Callable[[], tuple[Iterable[JsonRow], dict[str, Any] | None]] | None = None


def users_rows_write(*, target: Target, users: Sequence[UserRows]) -> dict[int, int]:
    """Write what ``user_rows_write`` writes, for a batch of users, in one transaction of a few
    round trips: the profiles (with ``SET LOCAL``, one pipelined round trip; each takes over the
    row a signup trigger made, or inserts it: ``_profile_statement``), one COPY of every
    patient's check-ins (histories built one at a time as it streams), then the therapist links
    and the ledger entries' completion with their ground truth (one round trip), and the commit.

    Returns ``{ledger entry id: check-ins written}``. All or nothing: any database error
    (a profile id taken, a refused row, a lost connection) propagates unchanged with nothing
    of the batch written; the caller then writes its users one by one to find out who.
    """
    truths: dict[int, dict[str, Any] | None] = {}

    def histories() -> Iterator[tuple[uuid.UUID, Iterable[JsonRow]]]:
        for user in users:
            if user.history is not None:
                rows, truths[user.ledger_id] = user.history()
                yield user.profile.id, rows

    # Outside any transaction (a worker's own connection), the transaction is opened and
    # committed by statements of the pipelines themselves: the COMMIT costs no round trip.
    own = connection.get_autocommit() and not connection.in_atomic_block
    begin: list[Statement] = [("BEGIN", None)] if own else []
    with contextlib.nullcontext() if own else transaction.atomic():
        try:
            profiles = [user.profile for user in users]
            statements_pipelined(
                [
                    *begin,
                    ("SET LOCAL synchronous_commit TO off", None),
                    *_profiles_statements(target, [(user.profile, user.ledger_id) for user in users]),
                ]
            )
            failpoint(ROWS_WRITE)  # tests only: a stop in the middle of the batch's transaction
            counts = checkins_copy_many(histories=histories()) if any(u.history for u in users) else {}
            failpoint(GENERATE_BATCH_COPIED)  # tests only: inside the batch's transaction
            written = {user.ledger_id: counts.get(user.profile.id, 0) for user in users}
            completion = ledger.entries_complete_statement(
                [(entry_id, count, truths.get(entry_id)) for entry_id, count in written.items()]
            )
            statements_pipelined(
                [*_links_statements(target, profiles), completion, *([("COMMIT", None)] if own else [])]
            )
        except BaseException:
            if own:
                _rollback()
            raise
    return written


def _rollback() -> None:
    """End the batch's own transaction after a failure (nothing to do on a lost connection)."""
    with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
        cursor.execute("ROLLBACK")


def _profile_values(target: Target, profile: ProfileRow) -> dict[str, Any]:
    """The columns synthadmin writes on a profile, as ``_profile_write`` writes them."""
    values: dict[str, Any] = {
        "role": profile.role,
        "username": profile.username,
        "email": profile.email,
        "is_test_patient": True,
    }
    if target.has_source:
        values["source"] = SOURCE_SYNTHETIC
    if target.therapist_link.column and profile.therapist_id is not None:
        values[target.therapist_link.column] = profile.therapist_id
    return values


def _profile_statement(target: Target, columns: Sequence[str]) -> sql.Composed:
    """The profile, in one statement, whatever made a row with its id before us (the columns
    ``_profile_values`` gives, in that order; its parameters: ``_profile_params``).

    A signup trigger of any shape (one that calls a helper, one that fires when the e-mail is
    confirmed, one nobody could recognise by its text) makes the row inside the Auth call that
    created the user a moment ago: the guarded UPDATE takes that row over with our fields. It
    is ours when the ledger entry that recorded this very attempt (``ledger_id``: this id, still
    ``intent``) says so — the id is a uuid4 we chose, given to Auth with our marker, and the
    row appeared with it. With no such row the INSERT writes it; with a row the guard does not
    prove ours, the UPDATE changes nothing and the INSERT meets ``profiles_pkey`` (an id
    collision). The INSERT names only our columns, so a NOT NULL column that a trigger fills is
    never checked on a row we do not insert. Each value is cast to its column's type (the
    INSERT reads it from a SELECT, where nothing else would type it).
    """
    named = ["id", *columns]
    typed = [
        sql.SQL("CAST(%s AS {})").format(sql.SQL(target.profile_columns[name].data_type))
        if name in target.profile_columns
        else sql.Placeholder()
        for name in named
    ]
    return sql.SQL(
        "WITH taken AS ("
        " UPDATE {profiles} SET {assignments} WHERE id = %s AND EXISTS ("
        "  SELECT 1 FROM {ledger} WHERE id = %s AND user_id = %s AND state = %s)"
        " RETURNING id)"
        " INSERT INTO {profiles} ({columns}) SELECT {typed} WHERE NOT EXISTS (SELECT 1 FROM taken)"
    ).format(
        profiles=PROFILES.sql,
        assignments=sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(name), cast)
            for name, cast in zip(named[1:], typed[1:], strict=True)
        ),
        ledger=sql.Identifier(SyntheticUser._meta.db_table),
        columns=sql.SQL(", ").join(map(sql.Identifier, named)),
        typed=sql.SQL(", ").join(typed),
    )


def _profile_params(profile: ProfileRow, ledger_id: int, values: dict[str, Any]) -> list[Any]:
    return [
        *values.values(),
        profile.id,
        ledger_id,
        profile.id,
        SyntheticUser.State.INTENT.value,
        profile.id,
        *values.values(),
    ]


def _profiles_statements(target: Target, users: Sequence[tuple[ProfileRow, int]]) -> list[Statement]:
    """``_profile_statement`` for each (profile, ledger entry id), one ``Many`` per set of
    columns (therapists have no therapist column value): one round trip in a pipeline."""
    by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
    for profile, ledger_id in users:
        values = _profile_values(target, profile)
        by_columns.setdefault(tuple(values), []).append(_profile_params(profile, ledger_id, values))
    return [(_profile_statement(target, columns), Many(rows)) for columns, rows in by_columns.items()]


def _links_statements(target: Target, profiles: Sequence[ProfileRow]) -> list[Statement]:
    link = target.therapist_link
    rows = [[p.therapist_id, p.id] for p in profiles if p.therapist_id is not None]
    if link.junction is None or not rows:
        return []
    insert = sql.SQL("INSERT INTO {} ({}, {}) VALUES (%s, %s)").format(
        link.junction.sql,
        sql.Identifier(link.junction_therapist_column),
        sql.Identifier(link.junction_patient_column),
    )
    return [(insert, Many(rows))]


def _profile_write(cursor: Any, target: Target, profile: ProfileRow, ledger_id: int) -> None:
    values = _profile_values(target, profile)
    cursor.execute(
        _render(_profile_statement(target, list(values))), _profile_params(profile, ledger_id, values)
    )


def _therapist_link_write(cursor: Any, target: Target, profile: ProfileRow) -> None:
    link = target.therapist_link
    if link.junction is None or profile.therapist_id is None:
        return
    insert = sql.SQL("INSERT INTO {} ({}, {}) VALUES (%s, %s)").format(
        link.junction.sql,
        sql.Identifier(link.junction_therapist_column),
        sql.Identifier(link.junction_patient_column),
    )
    cursor.execute(_render(insert), [profile.therapist_id, profile.id])


def _render(query: sql.Composable) -> str:
    """SQL text for Django's cursor (identifiers quoted by psycopg, values still placeholders)."""
    connection.ensure_connection()
    return query.as_string(connection.connection)


def checkins_copy(*, user_id: uuid.UUID, rows: Iterable[JsonRow]) -> int:
    """COPY ``rows`` into ``public.check_ins`` for ``user_id`` on the current connection."""
    return checkins_copy_many(histories=[(user_id, rows)]).get(user_id, 0)


def checkins_copy_many(*, histories: Iterable[tuple[uuid.UUID, Iterable[JsonRow]]]) -> dict[uuid.UUID, int]:
    """One COPY into ``public.check_ins`` of several users' rows (``(user_id, rows)`` pairs, each
    streamed once) on the current connection: how many rows each user got.

    The JSON produced by the content engine holds only keys and numbers, so it needs no COPY
    escaping; each line is built once and sent in blocks of at most ``COPY_BLOCK_BYTES``.
    """
    counts: dict[uuid.UUID, int] = {}
    buffer: list[str] = []
    size = 0
    # wrap_database_errors: psycopg errors from COPY surface as Django's DatabaseError subclasses.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(COPY_CHECKINS) as copy,
    ):
        for user_id, rows in histories:
            prefix = f"{user_id}\t"
            count = 0
            for day, *payload in rows:
                line = prefix + day.isoformat() + "\t" + "\t".join(payload) + "\n"
                if "\\" in line:  # never from the engine; escape rather than corrupt if it happens
                    line = (
                        prefix
                        + day.isoformat()
                        + "\t"
                        + "\t".join(p.replace("\\", "\\\\") for p in payload)
                        + "\n"
                    )
                buffer.append(line)
                size += len(line)
                count += 1
                if size >= COPY_BLOCK_BYTES:
                    copy.write("".join(buffer))
                    buffer.clear()
                    size = 0
            counts[user_id] = counts.get(user_id, 0) + count
        if buffer:
            copy.write("".join(buffer))
    return counts
