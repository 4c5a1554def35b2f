"""The admin routes of the Auth test server as GoTrue serves them, no fault planned: the admin
check, ``POST``/``GET /admin/users`` and ``GET``/``DELETE /admin/users/{id}``, on real rows."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

import jwt
import psycopg

from synthadmin.auth import gotrue_store
from synthadmin.db.errors import error_chain
from synthadmin.exceptions import DuplicateEmailError, DuplicateUserIdError
from tests.support.gotrue import go_compat, store
from tests.support.gotrue.responses import ApiError

if TYPE_CHECKING:
    from tests.support.gotrue.server import GoTrueDouble

API_PREFIX = "/auth/v1"
USERS_PATH = "/admin/users"
ADMIN_ROLES = frozenset({"service_role", "supabase_admin"})
DEFAULT_PER_PAGE = 50

_BEARER = re.compile(r"^[Bb]earer (\S+)$")


def route(method: str, path: str) -> tuple[str, str]:
    """(route name, user id segment) for a request path; ``"other"`` for what is not routed."""
    if not path.startswith(API_PREFIX + USERS_PATH):
        return "other", ""
    rest = path[len(API_PREFIX + USERS_PATH) :]
    if rest in ("", "/"):
        return {"POST": "create", "GET": "list"}.get(method, "other"), ""
    segment = rest[1:]
    if rest.startswith("/") and segment and "/" not in segment:
        return {"GET": "get", "DELETE": "delete"}.get(method, "other"), segment
    return "other", ""


def require_admin(authorization: str | None, jwt_secret: str) -> None:
    """GoTrue's admin middleware: a bearer JWT signed with the secret, with an admin role."""
    match = _BEARER.match(authorization or "")
    if match is None:
        raise ApiError(401, "no_authorization", "This endpoint requires a valid Bearer token")
    try:
        claims = jwt.decode(match.group(1), jwt_secret, algorithms=["HS256"], options={"verify_aud": False})
    except jwt.PyJWTError as exc:
        raise ApiError(403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {exc}") from exc
    if claims.get("role") not in ADMIN_ROLES:
        raise ApiError(403, "not_admin", "User not allowed")


def user_load(double: GoTrueDouble, segment: str) -> dict[str, Any]:
    """``GET /admin/users/{id}``: the user, or GoTrue's 404."""
    user_id = go_compat.parse_uuid(segment)
    if user_id is None:
        raise ApiError(404, "validation_failed", "user_id must be an UUID")
    with double.pool.connection() as conn, conn.cursor() as cursor:
        user = gotrue_store.fetch_user(cursor, user_id)
        conn.rollback()
    if user is None:
        raise ApiError(404, "user_not_found", "User not found")
    return user


def user_create(double: GoTrueDouble, params: dict[str, Any], aud: str) -> dict[str, Any]:
    """``POST /admin/users`` in GoTrue's order: identities free, password, id, ban; then the rows."""
    aud = params.get("aud") or aud
    email, phone = _identities_free(double, params, aud)
    password_hash = _password_hash(double, params)
    user_id = _user_id(params)
    now = datetime.now(UTC)
    banned_until = _banned_until(params, now)
    role = (params.get("role") or "").strip() or "authenticated"
    with double.pool.connection() as conn:
        try:
            with conn.cursor() as cursor:
                user = gotrue_store.insert_user(
                    cursor,
                    user_id=user_id,
                    email=email,
                    password_hash=password_hash,
                    email_confirm=bool(params.get("email_confirm")),
                    user_metadata=params.get("user_metadata") or {},
                    app_metadata=params.get("app_metadata") or {},
                    aud=aud,
                    role=role,
                    now=now,
                    phone=phone or None,
                    phone_confirm=bool(params.get("phone_confirm")),
                    banned_until=banned_until,
                )
            conn.commit()
        except (DuplicateUserIdError, DuplicateEmailError, psycopg.Error) as exc:
            conn.rollback()
            raise ApiError(
                500, "unexpected_failure", "Database error creating new user", pg_error=_pg_error(exc)
            ) from exc
    return user


def users_page(double: GoTrueDouble, query: str, aud: str) -> tuple[dict[str, Any], dict[str, str]]:
    """``GET /admin/users``: (body, paging headers) of one page."""
    pairs = parse_qsl(query, keep_blank_values=True)
    values = dict(pairs)
    page = go_compat.parse_uint(values.get("page", ""), default=1)
    per_page = go_compat.parse_uint(values.get("per_page", ""), default=DEFAULT_PER_PAGE)
    with double.pool.connection() as conn, conn.cursor() as cursor:
        users, total = store.list_users(
            cursor, page=page, per_page=per_page, aud=aud, search=values.get("filter") or None
        )
        conn.rollback()
    if total and not per_page:  # Go divides by per_page here and panics
        raise ApiError(500, "unexpected_failure", "Internal Server Error")
    headers = {"Link": _link_header(pairs, page, per_page, total), "X-Total-Count": str(total)}
    return {"users": users, "aud": aud}, headers


def user_delete(double: GoTrueDouble, user: dict[str, Any], body: bytes) -> None:
    """``DELETE /admin/users/{id}``: hard, or soft with ``should_soft_delete``."""
    soft = False
    if body:
        try:
            params = json.loads(body)
        except ValueError as exc:
            raise ApiError(400, "bad_json", f"Could not parse request body as JSON: {exc}") from exc
        if isinstance(params, dict):
            soft = params.get("should_soft_delete") is True
    with double.pool.connection() as conn:
        try:
            with conn.cursor() as cursor:
                if soft:
                    store.soft_delete_user(cursor, user["id"])
                else:
                    gotrue_store.delete_user(cursor, user["id"])
            conn.commit()
        except psycopg.Error as exc:
            conn.rollback()
            raise ApiError(500, "unexpected_failure", "Database error deleting user", pg_error=exc) from exc


def _identities_free(double: GoTrueDouble, params: dict[str, Any], aud: str) -> tuple[str, str]:
    """The e-mail and phone, valid and not taken in ``aud`` (GoTrue checks these first)."""
    email: str = params.get("email") or ""
    phone: str = params.get("phone") or ""
    if not email and not phone:
        raise ApiError(400, "validation_failed", "Cannot create a user without either an email or phone")
    with double.pool.connection() as conn:
        with conn.cursor() as cursor:
            if email:
                email = go_compat.validate_email(email)
                if store.email_taken(cursor, email, aud=aud):
                    raise ApiError(
                        422, "email_exists", "A user with this email address has already been registered"
                    )
            if phone:
                phone = go_compat.validate_phone(phone)
                if store.phone_taken(cursor, phone, aud=aud):
                    raise ApiError(422, "phone_exists", "Phone number already registered by another user")
        conn.rollback()
    return email, phone


def _password_hash(double: GoTrueDouble, params: dict[str, Any]) -> str:
    password = params.get("password")
    password_hash: str = params.get("password_hash") or ""
    if password is not None and password_hash:
        raise ApiError(400, "validation_failed", "Only a password or a password hash should be provided")
    if password_hash:
        if not go_compat.is_bcrypt_hash(password_hash):
            raise ApiError(500, "unexpected_failure", "Error creating user")
        return password_hash
    try:
        return gotrue_store.hash_password(password or secrets.token_urlsafe(48), rounds=double.bcrypt_rounds)
    except ValueError as exc:  # GoTrue v2.169+: a bcrypt panic, caught by the recoverer
        raise ApiError(500, "unexpected_failure", "Internal Server Error") from exc


def _user_id(params: dict[str, Any]) -> uuid.UUID:
    raw_id = params.get("id") or ""
    if not raw_id:
        return uuid.uuid4()
    user_id = go_compat.parse_uuid(raw_id)
    if user_id is None:
        raise ApiError(400, "validation_failed", "ID must conform to the uuid v4 format")
    if user_id == uuid.UUID(int=0):
        raise ApiError(400, "validation_failed", "ID cannot be a nil uuid")
    return user_id


def _banned_until(params: dict[str, Any], now: datetime) -> datetime | None:
    ban_duration = params.get("ban_duration") or ""
    if not ban_duration or ban_duration == "none":
        return None
    duration = go_compat.parse_go_duration(ban_duration)
    if duration is None:
        raise ApiError(
            400,
            "validation_failed",
            f'invalid format for ban duration: time: invalid duration "{ban_duration}"',
        )
    return now + duration if duration else None


def _link_header(pairs: list[tuple[str, str]], page: int, per_page: int, total: int) -> str:
    """GoTrue's ``addPaginationHeaders``: next (when there is more) and last, sorted query."""

    def page_url(number: int) -> str:
        query = dict(pairs)
        query["page"] = str(number)
        return f"{USERS_PATH}?{urlencode(sorted(query.items()))}"

    links = []
    if total > (max(page, 1) - 1) * per_page + per_page:
        links.append(f'<{page_url(page + 1)}>; rel="next"')
    last = 0 if total == 0 else -(-total // per_page) if per_page else 0
    links.append(f'<{page_url(last)}>; rel="last"')
    return ", ".join(links)


def _pg_error(exc: BaseException) -> psycopg.Error | None:
    return next((error for error in error_chain(exc) if isinstance(error, psycopg.Error)), None)


__all__ = [
    "API_PREFIX",
    "USERS_PATH",
    "require_admin",
    "route",
    "user_create",
    "user_delete",
    "user_load",
    "users_page",
]
