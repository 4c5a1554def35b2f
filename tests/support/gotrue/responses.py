"""GoTrue's error answers as the Auth test server renders them: ``ApiError`` and its body in the
2024 shape, the legacy shape, a Postgres error's own shape, a gateway's bare body or an HTML page."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

API_VERSION_HEADER = "X-Supabase-Api-Version"
API_VERSION_2024_01_01 = "2024-01-01"

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>%d</title></head>\n<body><h1>%d</h1>"
    b"<p>An HTML page, as a proxy, a load balancer or a wrong URL answers.</p></body></html>\n"
)


class ApiError(Exception):
    """An error response GoTrue would render (``apierrors.HTTPError``)."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        *,
        pg_error: Any = None,
        headers: dict[str, str] | None = None,
        html: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.pg_error = pg_error
        self.headers = headers or {}
        self.html = html


class DropConnection(Exception):
    """Close the connection without a response."""


def wants_2024_errors(header: str | None) -> bool:
    """GoTrue's ``DetermineClosestAPIVersion``: a valid date on or after 2024-01-01."""
    if not header or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", header):
        return False
    try:
        return datetime.strptime(header, "%Y-%m-%d") >= datetime(2024, 1, 1)
    except ValueError:
        return False


def error_response(
    error: ApiError, *, api_2024: bool, echo_version: bool
) -> tuple[bytes, str, dict[str, str]]:
    """(body, content type, headers) of ``error`` as GoTrue's ``HandleResponseError`` renders it
    (``docs/auth-admin-api.md``, "Error bodies and the client"); ``echo_version`` False: the
    version header is lost on the way out."""
    headers: dict[str, str] = dict(error.headers)
    if error.html:  # a proxy's / load balancer's page, not GoTrue's JSON
        return HTML_PAGE % (error.status, error.status), "text/html; charset=utf-8", headers
    if error.code is None:  # an injected gateway error: Kong's bare body, no GoTrue headers
        return _json({"message": error.message}), "application/json", headers
    headers["x-sb-error-code"] = error.code
    if api_2024:
        if echo_version:
            headers[API_VERSION_HEADER] = API_VERSION_2024_01_01
        body: dict[str, Any] = {"code": error.code, "message": error.message}
    elif error.pg_error is not None and _exposed_pg_error(getattr(error.pg_error, "sqlstate", "") or ""):
        diag = error.pg_error.diag
        body = {"code": error.pg_error.sqlstate, "message": diag.message_primary or ""}
        if diag.message_hint:
            body["hint"] = diag.message_hint
        if diag.message_detail:
            body["detail"] = diag.message_detail
    else:
        body = {"code": error.status, "error_code": error.code, "msg": error.message}
        if error.status >= 500:
            body["error_id"] = str(uuid.uuid4())
    return _json(body), "application/json", headers


def _json(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


def _exposed_pg_error(sqlstate: str) -> bool:
    """The Postgres errors a legacy body shows as they are: 23xxx, P0001, PTxxx."""
    return sqlstate.startswith(("23", "PT")) or sqlstate == "P0001"


__all__ = [
    "API_VERSION_2024_01_01",
    "API_VERSION_HEADER",
    "ApiError",
    "DropConnection",
    "error_response",
    "wants_2024_errors",
]
