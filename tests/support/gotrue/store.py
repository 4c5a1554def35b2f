"""GoTrue's row logic only the Auth test server needs (synthadmin never lists, checks phones or
soft-deletes): the duplicate e-mail / phone checks, the paged list, the soft delete. Like
``synthadmin.auth.gotrue_store``, each function takes a DB-API cursor and never commits."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from synthadmin.auth.gotrue_store import NIL_INSTANCE_ID, fetch_user

# GoTrue's list filter: a substring of the e-mail or of user_metadata.full_name.
_USERS_IN_AUD = (
    " FROM auth.users WHERE instance_id = %s AND aud = %s"
    " AND (%s::text IS NULL OR email LIKE %s OR raw_user_meta_data ->> 'full_name' ILIKE %s)"
)


def email_taken(cursor: Any, email: str, *, aud: str = "authenticated") -> bool:
    """GoTrue's duplicate-email check (``models.IsDuplicatedEmail``), read-only.

    First through ``auth.identities.email`` (non-SSO identities whose user is in ``aud``), then
    through ``LOWER(auth.users.email)`` among non-SSO users of ``aud``; both in the nil instance.
    """
    lowered = email.lower()
    cursor.execute(
        "SELECT EXISTS ("
        "  SELECT 1 FROM auth.identities i JOIN auth.users u ON u.id = i.user_id"
        "  WHERE i.email = %s AND left(i.provider, 4) <> 'sso:'"
        "    AND u.instance_id = %s AND u.aud = %s"
        ") OR EXISTS ("
        "  SELECT 1 FROM auth.users"
        "  WHERE instance_id = %s AND lower(email) = %s AND aud = %s AND is_sso_user = false"
        ")",
        [lowered, NIL_INSTANCE_ID, aud, NIL_INSTANCE_ID, lowered, aud],
    )
    return bool(cursor.fetchone()[0])


def phone_taken(cursor: Any, phone: str, *, aud: str = "authenticated") -> bool:
    """GoTrue's duplicate-phone check (``models.IsDuplicatedPhone``): same phone, same ``aud``."""
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM auth.users WHERE instance_id = %s AND phone = %s AND aud = %s)",
        [NIL_INSTANCE_ID, phone, aud],
    )
    return bool(cursor.fetchone()[0])


def list_users(
    cursor: Any,
    *,
    page: int,
    per_page: int,
    aud: str = "authenticated",
    search: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the users of ``aud`` (newest first) and the total count, as GoTrue lists them.

    Entries carry ``"identities": None`` (GoTrue loads the list without associations);
    soft-deleted users are included. ``page`` starts at 1. ``search`` is GoTrue's ``filter``:
    a substring of the e-mail or of ``user_metadata.full_name``.
    """
    pattern = None if not search else f"%{search}%"
    where = [NIL_INSTANCE_ID, aud, pattern, pattern, pattern]
    cursor.execute("SELECT count(*)" + _USERS_IN_AUD, where)
    total = int(cursor.fetchone()[0])
    offset = max(page - 1, 0) * per_page
    cursor.execute(
        "SELECT id" + _USERS_IN_AUD + " ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
        [*where, per_page, offset],
    )
    users = []
    for (user_id,) in cursor.fetchall():
        user = fetch_user(cursor, user_id)
        if user is not None:
            users.append({**user, "identities": None})
    return users, total


def soft_delete_user(cursor: Any, user_id: uuid.UUID | str) -> bool:
    """Soft-delete a user the way GoTrue's admin DELETE does with ``should_soft_delete``; False
    when no user has that id.

    The row stays with ``deleted_at`` set, e-mail / phone / pending changes obfuscated, no
    password, metadata ``{}``, and its identities keep only an obfuscated ``provider_id`` and
    ``{}`` as ``identity_data``. Soft-deleting a soft-deleted user changes nothing (True).
    """
    uid = uuid.UUID(str(user_id))
    cursor.execute(
        "SELECT email, phone, email_change, phone_change, deleted_at FROM auth.users "
        "WHERE instance_id = %s AND id = %s FOR UPDATE",
        [NIL_INSTANCE_ID, uid],
    )
    row = cursor.fetchone()
    if row is None:
        return False
    email, phone, email_change, phone_change, deleted_at = row
    if deleted_at is not None:
        return True
    now = datetime.now(UTC)
    cursor.execute(
        "UPDATE auth.users SET email = %s, phone = %s, email_change = %s, phone_change = %s,"
        "  encrypted_password = NULL, confirmation_token = '', recovery_token = '',"
        "  email_change_token_current = '', email_change_token_new = '', phone_change_token = '',"
        "  raw_user_meta_data = '{}'::jsonb, raw_app_meta_data = '{}'::jsonb,"
        "  deleted_at = %s, updated_at = %s "
        "WHERE id = %s",
        [
            obfuscate(uid, email or ""),
            obfuscate(uid, phone or "")[:15],
            obfuscate(uid, email_change or ""),
            obfuscate(uid, phone_change or "")[:15],
            now,
            now,
            uid,
        ],
    )
    cursor.execute("SELECT id, provider, provider_id FROM auth.identities WHERE user_id = %s", [uid])
    for identity_id, provider, provider_id in cursor.fetchall():
        cursor.execute(
            "UPDATE auth.identities SET provider_id = %s, identity_data = '{}'::jsonb, updated_at = %s "
            "WHERE id = %s",
            [obfuscate(uid, f"{provider}:{provider_id}"), now, identity_id],
        )
    return True


def obfuscate(user_id: uuid.UUID, value: str) -> str:
    """GoTrue's ``obfuscateValue``: base64url(sha256(id + value)), unpadded."""
    digest = hashlib.sha256((str(user_id) + value).encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


__all__ = ["email_taken", "list_users", "obfuscate", "phone_taken", "soft_delete_user"]
