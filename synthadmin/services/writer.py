"""The database half of creating a user: profile (+ check-ins) in one transaction.

Check-ins go in with one ``COPY`` per patient, streamed from the content engine's JSON rows,
never one INSERT per row and never a materialised list of the whole run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction

from profiles.models import Profile
from synthadmin.dberrors import UNIQUE_VIOLATION, constraint_name, sqlstate
from synthadmin.exceptions import DuplicateUserIdError
from synthadmin.models import SyntheticUser

COPY_CHECKINS = (
    "COPY public.check_ins (user_id, checkin_date, sleep_data, mood_data, symptoms_data, "
    "risk_routine_data, appetite_impulse_data, meds_context_data) FROM STDIN"
)
#: Keep COPY blocks small: with 1 MiB blocks the client waits on the socket (performance notes).
COPY_BLOCK_BYTES = 32 * 1024

JsonRow = tuple[dt.date, str, str, str, str, str, str]


def user_rows_write(*, profile: Profile, checkins: Iterable[JsonRow] | None, ledger_id: int) -> int:
    """Insert ``profile`` and its check-ins, and mark the ledger entry complete: all or nothing.

    Returns the number of check-ins written. Raises DuplicateUserIdError when the profile id
    is taken (``profiles_pkey``); any other database error propagates unchanged. Either way,
    nothing of this user is left in the database.
    """
    try:
        with transaction.atomic():
            # The commit need not wait for its WAL flush: should the server crash and lose this
            # transaction, the intent record (committed durably before the Auth call) is still
            # there, and purge finds and deletes the Auth user. Saves a disk flush per user.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO off")
            profile.save(force_insert=True)
            written = checkins_copy(user_id=profile.id, rows=checkins) if checkins is not None else 0
            SyntheticUser.objects.filter(pk=ledger_id).update(
                state=SyntheticUser.State.COMPLETE, checkins=written
            )
    except IntegrityError as exc:
        # The whole transaction is gone either way; only the reason differs.
        if sqlstate(exc) == UNIQUE_VIOLATION and constraint_name(exc) == "profiles_pkey":
            raise DuplicateUserIdError(
                f"a profile with id {profile.id} already exists", code=UNIQUE_VIOLATION
            ) from exc
        raise
    return written


def checkins_copy(*, user_id: uuid.UUID, rows: Iterable[JsonRow]) -> int:
    """COPY ``rows`` into ``public.check_ins`` for ``user_id`` on the current connection.

    The JSON produced by the content engine holds only keys and numbers, so it needs no COPY
    escaping; each line is built once and sent in blocks of at most ``COPY_BLOCK_BYTES``.
    """
    prefix = f"{user_id}\t"
    count = 0
    buffer: list[str] = []
    size = 0
    # wrap_database_errors: psycopg errors from COPY surface as Django's DatabaseError subclasses.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(COPY_CHECKINS) as copy,
    ):
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
        if buffer:
            copy.write("".join(buffer))
    return count
