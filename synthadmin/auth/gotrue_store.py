"""GoTrue's row logic for ``auth.users`` / ``auth.identities``, in Python.

Used by the local Auth gateway (which writes the rows itself when there is no Supabase), and
by the Auth test server under ``tests/support/gotrue/``, so both produce exactly the rows and
the JSON that Supabase Auth produces on ``POST /admin/users`` (see ``docs/auth-schema.md`` and
``docs/auth-admin-api.md``).

Every function takes a DB-API cursor: a Django ``CursorWrapper`` or a plain psycopg 3 cursor.
None of them commits; the caller owns the transaction. ``insert_user`` needs an open
transaction (Django: inside ``transaction.atomic()``; psycopg: a non-autocommit connection)
because it protects its two inserts with a savepoint.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import bcrypt

from synthadmin.db.errors import UNIQUE_VIOLATION, constraint_name, sqlstate
from synthadmin.exceptions import DuplicateEmailError, DuplicateUserIdError

NIL_INSTANCE_ID = "00000000-0000-0000-0000-000000000000"

#: bcrypt only reads the first 72 bytes; GoTrue refuses longer passwords instead of truncating.
BCRYPT_MAX_PASSWORD_BYTES = 72

_DUPLICATE_ID_CONSTRAINTS = frozenset({"users_pkey", "identities_provider_id_provider_unique"})
_DUPLICATE_EMAIL_CONSTRAINTS = frozenset({"users_email_partial_key"})
_SAVEPOINT = "synthadmin_gotrue_insert_user"

# GoTrue's User / Identity models read these columns; metadata is read as text so that both a
# Django cursor and a plain psycopg cursor hand back the same thing.
_SELECT_USER_BY_ID = (
    "SELECT id, aud, role, email, phone, email_confirmed_at, invited_at, phone_confirmed_at,"
    " confirmation_sent_at, confirmed_at, recovery_sent_at, email_change, email_change_sent_at,"
    " phone_change, phone_change_sent_at, reauthentication_sent_at, last_sign_in_at,"
    " raw_app_meta_data::text, raw_user_meta_data::text, created_at, updated_at, banned_until,"
    " deleted_at, is_anonymous"
    " FROM auth.users WHERE instance_id = %s AND id = %s"
)
_SELECT_IDENTITIES = (
    "SELECT id, provider_id, user_id, identity_data::text, provider, last_sign_in_at, created_at,"
    " updated_at, email"
    " FROM auth.identities WHERE user_id = %s ORDER BY created_at, id"
)


#: The columns of a new ``auth.users`` row, in the order both inserts give them.
_INSERT_USERS = (
    "INSERT INTO auth.users ("
    "  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,"
    "  phone, phone_confirmed_at,"
    "  confirmation_token, recovery_token, email_change_token_new, email_change,"
    "  email_change_token_current, phone_change, phone_change_token, reauthentication_token,"
    "  email_change_confirm_status, raw_app_meta_data, raw_user_meta_data,"
    "  created_at, updated_at, banned_until, is_sso_user, is_anonymous"
    ")"
)


def hash_password(password: str, *, rounds: int) -> str:
    """A bcrypt ``$2a$`` hash of ``password`` at cost ``rounds``, as GoTrue stores it.

    Raises ``ValueError`` when the password is longer than 72 bytes in UTF-8 (GoTrue fails such
    an admin create with 500 rather than hash a truncated password).
    """
    encoded = password.encode("utf-8")
    if len(encoded) > BCRYPT_MAX_PASSWORD_BYTES:
        raise ValueError(f"password is {len(encoded)} bytes long; bcrypt accepts at most 72")
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds=rounds, prefix=b"2a")).decode("ascii")


def insert_user(
    cursor: Any,
    *,
    user_id: uuid.UUID,
    email: str,
    password_hash: str,
    email_confirm: bool,
    user_metadata: Mapping[str, Any],
    app_metadata: Mapping[str, Any],
    aud: str = "authenticated",
    role: str = "authenticated",
    now: datetime | None = None,
    phone: str | None = None,
    phone_confirm: bool = False,
    banned_until: datetime | None = None,
) -> dict[str, Any]:
    """Insert one user the way GoTrue's admin create does; return it as GoTrue's JSON.

    Writes one ``auth.users`` row and one ``auth.identities`` row per e-mail / phone, inside a
    savepoint: on failure the savepoint is rolled back, so the caller's transaction stays
    usable. ``email`` may be ``""`` only when ``phone`` (digits only, no ``+``) is given.

    Raises ``DuplicateUserIdError`` (``users_pkey`` or ``identities_provider_id_provider_unique``)
    or ``DuplicateEmailError`` (``users_email_partial_key``), with ``code="23505"``, raised from
    the database error; any other database error propagates unchanged.
    """
    now = _utc(now or datetime.now(UTC))
    email = email.lower()
    phone = phone or None
    row = _NewRow(
        user_id=user_id,
        aud=aud,
        role=role,
        email=email,
        phone=phone,
        password_hash=password_hash,
        app_meta=_app_metadata(app_metadata, email=email, phone=phone),
        user_meta=_user_metadata(user_metadata, email_confirm=email_confirm, phone_confirm=phone_confirm),
        email_confirmed_at=now if email_confirm else None,
        phone_confirmed_at=now if phone_confirm else None,
        banned_until=banned_until,
        now=now,
    )
    cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
    try:
        _insert_bare_then_update(cursor, row)
        for provider, claims in (("email", {"email": email}), ("phone", {"phone": phone})):
            if claims[provider]:
                _insert_identity(cursor, row, provider, claims)
    except Exception as exc:
        cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
        cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
        _raise_collision(exc)
        raise
    cursor.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")

    user = fetch_user(cursor, user_id)
    if user is None:  # pragma: no cover - only if another session deleted it mid-transaction
        raise RuntimeError(f"user {user_id} vanished right after its insert")
    # GoTrue does not re-read the generated confirmed_at after the insert.
    user.pop("confirmed_at", None)
    return user


@dataclass(frozen=True)
class _NewRow:
    """Everything one admin create writes, computed before the first statement."""

    user_id: uuid.UUID
    aud: str
    role: str
    email: str
    phone: str | None
    password_hash: str
    app_meta: dict[str, Any]
    user_meta: dict[str, Any]
    email_confirmed_at: datetime | None
    phone_confirmed_at: datetime | None
    banned_until: datetime | None
    now: datetime

    @property
    def provider(self) -> str:
        return "email" if self.email else "phone"


def _app_metadata(requested: Mapping[str, Any], *, email: str, phone: str | None) -> dict[str, Any]:
    """``{provider, providers}`` merged with the caller's keys; a ``None`` value deletes a key."""
    providers = [p for p, value in (("email", email), ("phone", phone)) if value]
    merged: dict[str, Any] = {"provider": "email" if email else "phone", "providers": providers}
    for key, value in requested.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _user_metadata(
    requested: Mapping[str, Any], *, email_confirm: bool, phone_confirm: bool
) -> dict[str, Any]:
    user_meta = dict(requested)
    if email_confirm:
        user_meta["email_verified"] = True
    if phone_confirm:
        user_meta["phone_verified"] = True
    return user_meta


def _insert_bare_then_update(cursor: Any, row: _NewRow) -> None:
    """GoTrue's order (docs/auth-admin-api.md, docs/auth-schema.md): first a bare row — no role,
    app metadata holding only the provider, nothing confirmed, user metadata already there — then
    the updates, in the same transaction. An AFTER INSERT trigger on auth.users (a signup
    trigger) sees exactly that bare row."""
    cursor.execute(
        _INSERT_USERS + " VALUES ("
        "  %s, %s, %s, '', %s, %s, NULL, %s, NULL,"
        "  '', '', '', '', '', '', '', '', 0, %s::jsonb, %s::jsonb, %s, %s, %s, false, false"
        ")",
        [
            NIL_INSTANCE_ID,
            row.user_id,
            row.aud,
            row.email or None,
            row.password_hash,
            row.phone,
            json.dumps({"provider": row.provider}),
            json.dumps(row.user_meta),
            row.now,
            row.now,
            row.banned_until,
        ],
    )
    cursor.execute(
        "UPDATE auth.users SET role = %s, raw_app_meta_data = %s::jsonb,"
        "  email_confirmed_at = %s, phone_confirmed_at = %s"
        " WHERE instance_id = %s AND id = %s",
        [
            row.role,
            json.dumps(row.app_meta),
            row.email_confirmed_at,
            row.phone_confirmed_at,
            NIL_INSTANCE_ID,
            row.user_id,
        ],
    )


def _insert_identity(cursor: Any, row: _NewRow, provider: str, claims: Mapping[str, Any]) -> None:
    identity_data = {"sub": str(row.user_id), **claims, "email_verified": False, "phone_verified": False}
    cursor.execute(
        "INSERT INTO auth.identities ("
        "  id, provider_id, user_id, identity_data, provider, last_sign_in_at,"
        "  created_at, updated_at"
        ") VALUES (%s, %s, %s, %s::jsonb, %s, %s, %s, %s)",
        [
            uuid.uuid4(),
            str(row.user_id),
            row.user_id,
            json.dumps(identity_data),
            provider,
            row.now,
            row.now,
            row.now,
        ],
    )


@dataclass(frozen=True)
class NewEmailUser:
    """One user of a batch created as ``insert_user`` creates one with an e-mail, no phone."""

    user_id: uuid.UUID
    email: str
    password_hash: str
    user_metadata: Mapping[str, Any]
    app_metadata: Mapping[str, Any]


#: The bare rows of a batch (``_insert_bare_then_update``'s first statement, one row per user).
_INSERT_BARE_MANY = (
    _INSERT_USERS  # noqa: S608 - constant text, values are placeholders
    + " SELECT %s, u.id, %s, '', u.email, u.password_hash, NULL, NULL, NULL,"
    "  '', '', '', '', '', '', '', '', 0, %s::jsonb, u.user_meta::jsonb, %s, %s, NULL, false, false"
    " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[])"
    " WITH ORDINALITY AS u(id, email, password_hash, user_meta, n) ORDER BY u.n"
)
#: Their role, app metadata and confirmation (the second statement), for the whole batch.
_UPDATE_MANY = (
    "UPDATE auth.users AS a SET role = %s, raw_app_meta_data = u.app_meta::jsonb,"
    "  email_confirmed_at = %s, phone_confirmed_at = NULL"
    " FROM unnest(%s::uuid[], %s::text[]) AS u(id, app_meta)"
    " WHERE a.instance_id = %s AND a.id = u.id"
)
_INSERT_IDENTITIES_MANY = (
    "INSERT INTO auth.identities ("
    "  id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at"
    ") SELECT u.identity_id, u.user_id::text, u.user_id, u.identity_data::jsonb, 'email', %s, %s, %s"
    " FROM unnest(%s::uuid[], %s::uuid[], %s::text[]) AS u(identity_id, user_id, identity_data)"
)


def insert_users_statements(
    users: Sequence[NewEmailUser], *, now: datetime | None = None
) -> list[tuple[str, list[Any]]]:
    """The statements that create ``users`` (e-mail confirmed, no phone) exactly as ``insert_user``
    creates each — its bare ``auth.users`` row first (a signup trigger sees that row), then the
    update, then its ``email`` identity — but three statements for the whole batch, to be sent
    together (``synthadmin.db.pipeline``) in the caller's transaction. A collision or refusal fails
    a statement, and the transaction, for the whole batch (the caller then finds out who).
    """
    now = _utc(now or datetime.now(UTC))
    ids = [user.user_id for user in users]
    emails = [user.email.lower() for user in users]
    user_meta = [
        json.dumps(_user_metadata(user.user_metadata, email_confirm=True, phone_confirm=False))
        for user in users
    ]
    app_meta = [
        json.dumps(_app_metadata(user.app_metadata, email=email, phone=None))
        for user, email in zip(users, emails, strict=True)
    ]
    identity_data = [
        json.dumps({"sub": str(user_id), "email": email, "email_verified": False, "phone_verified": False})
        for user_id, email in zip(ids, emails, strict=True)
    ]
    bare = json.dumps({"provider": "email"})
    return [
        (
            _INSERT_BARE_MANY,
            [
                NIL_INSTANCE_ID,
                "authenticated",
                bare,
                now,
                now,
                ids,
                emails,
                [user.password_hash for user in users],
                user_meta,
            ],
        ),
        (_UPDATE_MANY, ["authenticated", now, ids, app_meta, NIL_INSTANCE_ID]),
        (_INSERT_IDENTITIES_MANY, [now, now, now, [uuid.uuid4() for _ in users], ids, identity_data]),
    ]


def fetch_user(cursor: Any, user_id: uuid.UUID | str) -> dict[str, Any] | None:
    """The user as GoTrue's admin GET renders it (with identities), or None when absent.

    Looks the id up in the nil instance only, soft-deleted users included.
    """
    cursor.execute(_SELECT_USER_BY_ID, [NIL_INSTANCE_ID, _as_uuid(user_id)])
    row = cursor.fetchone()
    if row is None:
        return None
    cursor.execute(_SELECT_IDENTITIES, [_as_uuid(user_id)])
    identities = [_render_identity(identity) for identity in cursor.fetchall()]
    return _render_user(row, identities)


def delete_user(cursor: Any, user_id: uuid.UUID | str) -> bool:
    """Hard-delete a user the way GoTrue's admin DELETE does; False when no user has that id.

    One ``DELETE FROM auth.users``; ``ON DELETE CASCADE`` removes the identities and the app
    rows that reference the user (``public.profiles``, and through it ``check_ins``).
    """
    cursor.execute(
        "DELETE FROM auth.users WHERE instance_id = %s AND id = %s", [NIL_INSTANCE_ID, _as_uuid(user_id)]
    )
    return bool(cursor.rowcount > 0)


def delete_users(cursor: Any, user_ids: Iterable[uuid.UUID | str]) -> list[uuid.UUID]:
    """Hard-delete several users in one statement, each as ``delete_user`` deletes one; the ids
    that existed (those absent are no error). One refusal (a foreign key without cascade, a
    trigger) fails the statement, and the caller's transaction, for all of them."""
    cursor.execute(
        "DELETE FROM auth.users WHERE instance_id = %s AND id = ANY(%s) RETURNING id",
        [NIL_INSTANCE_ID, [_as_uuid(user_id) for user_id in user_ids]],
    )
    return [_as_uuid(row[0]) for row in cursor.fetchall()]


def _raise_collision(exc: BaseException) -> None:
    """Re-raise a unique violation of a user's id or e-mail as the typed collision error."""
    if sqlstate(exc) != UNIQUE_VIOLATION:
        return
    constraint = constraint_name(exc)
    if constraint in _DUPLICATE_ID_CONSTRAINTS:
        raise DuplicateUserIdError(
            f"a user with this id already exists ({constraint})", status=None, code=UNIQUE_VIOLATION
        ) from exc
    if constraint in _DUPLICATE_EMAIL_CONSTRAINTS:
        raise DuplicateEmailError(
            f"a user with this email address already exists ({constraint})", code=UNIQUE_VIOLATION
        ) from exc


def _render_user(row: tuple[Any, ...], identities: list[dict[str, Any]] | None) -> dict[str, Any]:
    (
        user_id, aud, role, email, phone, email_confirmed_at, invited_at, phone_confirmed_at,
        confirmation_sent_at, confirmed_at, recovery_sent_at, email_change, email_change_sent_at,
        phone_change, phone_change_sent_at, reauthentication_sent_at, last_sign_in_at,
        app_meta, user_meta, created_at, updated_at, banned_until, deleted_at, is_anonymous,
    ) = row  # fmt: skip
    user: dict[str, Any] = {"id": str(user_id), "aud": aud or "", "role": role or "", "email": email or ""}
    _put_time(user, "email_confirmed_at", email_confirmed_at)
    _put_time(user, "invited_at", invited_at)
    user["phone"] = phone or ""
    _put_time(user, "phone_confirmed_at", phone_confirmed_at)
    _put_time(user, "confirmation_sent_at", confirmation_sent_at)
    _put_time(user, "confirmed_at", confirmed_at)
    _put_time(user, "recovery_sent_at", recovery_sent_at)
    if email_change:
        user["new_email"] = email_change
    _put_time(user, "email_change_sent_at", email_change_sent_at)
    if phone_change:
        user["new_phone"] = phone_change
    _put_time(user, "phone_change_sent_at", phone_change_sent_at)
    _put_time(user, "reauthentication_sent_at", reauthentication_sent_at)
    _put_time(user, "last_sign_in_at", last_sign_in_at)
    user["app_metadata"] = _json_map(app_meta)
    user["user_metadata"] = _json_map(user_meta)
    user["identities"] = identities
    user["created_at"] = _isotime(created_at)
    user["updated_at"] = _isotime(updated_at)
    _put_time(user, "banned_until", banned_until)
    _put_time(user, "deleted_at", deleted_at)
    user["is_anonymous"] = bool(is_anonymous)
    return user


def _render_identity(row: tuple[Any, ...]) -> dict[str, Any]:
    (
        identity_id,
        provider_id,
        user_id,
        identity_data,
        provider,
        last_sign_in_at,
        created_at,
        updated_at,
        email,
    ) = row
    identity: dict[str, Any] = {"identity_id": str(identity_id), "id": provider_id, "user_id": str(user_id)}
    data = _json_map(identity_data)
    if data:  # Go: `json:"identity_data,omitempty"`, so a soft-deleted identity has none
        identity["identity_data"] = data
    identity["provider"] = provider
    _put_time(identity, "last_sign_in_at", last_sign_in_at)
    identity["created_at"] = _isotime(created_at)
    identity["updated_at"] = _isotime(updated_at)
    if email:
        identity["email"] = email
    return identity


def _put_time(target: dict[str, Any], key: str, value: datetime | None) -> None:
    """GoTrue omits empty ``*_at`` fields (``omitempty`` on pointer times)."""
    if value is not None:
        target[key] = _isotime(value)


def _isotime(value: datetime | None) -> str | None:
    # A full "+00:00" offset: the client's pydantic rejects Postgres' "+00".
    return None if value is None else _utc(value).isoformat()


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: GoTrue's timestamps are timezone-aware (UTC)")
    return value.astimezone(UTC)


def _json_map(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return dict(value) if value is not None else {}


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


__all__ = [
    "BCRYPT_MAX_PASSWORD_BYTES",
    "NIL_INSTANCE_ID",
    "NewEmailUser",
    "delete_user",
    "fetch_user",
    "hash_password",
    "insert_user",
    "insert_users_statements",
]
