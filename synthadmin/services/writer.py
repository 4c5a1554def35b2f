"""The database half of creating a user: profile (+ check-ins) in one transaction.

Check-ins go in with one ``COPY`` per patient, streamed from the content engine's JSON rows,
never one INSERT per row and never a materialised list of the whole run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from psycopg import sql

from synthadmin.db.errors import UNIQUE_VIOLATION, constraint_name, sqlstate
from synthadmin.exceptions import DuplicateUserIdError
from synthadmin.failpoints import ROWS_WRITE, failpoint
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


def _profile_write(cursor: Any, target: Target, profile: ProfileRow, ledger_id: int) -> None:
    """The profile, in one statement, whatever made a row with its id before us.

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
    columns = ["id", *values]
    typed = [
        sql.SQL("CAST(%s AS {})").format(sql.SQL(target.profile_columns[name].data_type))
        if name in target.profile_columns
        else sql.Placeholder()
        for name in columns
    ]
    statement = sql.SQL(
        "WITH taken AS ("
        " UPDATE {profiles} SET {assignments} WHERE id = %s AND EXISTS ("
        "  SELECT 1 FROM {ledger} WHERE id = %s AND user_id = %s AND state = %s)"
        " RETURNING id)"
        " INSERT INTO {profiles} ({columns}) SELECT {typed} WHERE NOT EXISTS (SELECT 1 FROM taken)"
    ).format(
        profiles=PROFILES.sql,
        assignments=sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(name), cast)
            for name, cast in zip(values, typed[1:], strict=True)
        ),
        ledger=sql.Identifier(SyntheticUser._meta.db_table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        typed=sql.SQL(", ").join(typed),
    )
    cursor.execute(
        _render(statement),
        [
            *values.values(),
            profile.id,
            ledger_id,
            profile.id,
            SyntheticUser.State.INTENT.value,
            profile.id,
            *values.values(),
        ],
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
