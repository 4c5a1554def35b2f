"""Request parsing as GoTrue (Go) does it, for the Auth test server: the admin create's JSON body
(``AdminUserParams``), e-mail and E.164 phone checks, bcrypt hashes, UUIDs, Go durations and
unsigned paging numbers. Each refusal is the ``ApiError`` GoTrue answers."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Any

from tests.support.gotrue.responses import ApiError

_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
_E164 = re.compile(r"^[1-9]\d{1,14}$")
_HEX = "[0-9a-fA-F]"
_UUID = re.compile(f"^{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}$")
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}

# Admin create's JSON fields and their Go types (api.AdminUserParams).
_CREATE_FIELDS = {
    "id": str,
    "aud": str,
    "role": str,
    "email": str,
    "phone": str,
    "password": str,
    "password_hash": str,
    "email_confirm": bool,
    "phone_confirm": bool,
    "user_metadata": dict,
    "app_metadata": dict,
    "ban_duration": str,
}
_GO_TYPE_NAMES = {str: "string", bool: "bool", dict: "map[string]interface {}"}


def parse_create_params(body: bytes) -> dict[str, Any]:
    """Decode the body the way Go's ``json.Unmarshal`` fills ``AdminUserParams``."""
    try:
        raw = json.loads(body) if body else _missing_body()
    except ValueError as exc:
        raise ApiError(400, "bad_json", f"Could not parse request body as JSON: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ApiError(
            400,
            "bad_json",
            "Could not parse request body as JSON: json: cannot unmarshal "
            f"{_json_type(raw)} into Go value of type api.AdminUserParams",
        )
    params: dict[str, Any] = {}
    for name, expected in _CREATE_FIELDS.items():
        value = raw.get(name)
        if value is None:
            continue
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise ApiError(
                400,
                "bad_json",
                f"Could not parse request body as JSON: json: cannot unmarshal {_json_type(value)} "
                f"into Go struct field AdminUserParams.{name} of type {_GO_TYPE_NAMES[expected]}",
            )
        params[name] = value
    return params


def validate_email(email: str) -> str:
    """``email`` lower-cased, or GoTrue's 400 for one too long or not an address."""
    if len(email) > 255:
        raise ApiError(400, "validation_failed", "An email address is too long")
    if not _EMAIL.match(email):
        raise ApiError(400, "validation_failed", "Unable to validate email address: invalid format")
    return email.lower()


def validate_phone(phone: str) -> str:
    """``phone`` as GoTrue stores it (E.164 digits, no ``+``), or its 400."""
    phone = phone.removeprefix("+").replace(" ", "")
    if not _E164.match(phone):
        raise ApiError(400, "validation_failed", "Invalid phone number format (E.164 required)")
    return phone


def is_bcrypt_hash(value: str) -> bool:
    return bool(_BCRYPT_HASH.match(value))


def parse_uuid(value: str) -> uuid.UUID | None:
    """The UUID in its canonical spelling (what the client sends); None for anything else."""
    return uuid.UUID(value) if _UUID.match(value) else None


def parse_go_duration(value: str) -> timedelta | None:
    """Go's ``time.ParseDuration``; None when invalid."""
    text = value
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-") if text[:1] in "+-" else text
    if text == "0":
        return timedelta(0)
    if not text:
        return None
    seconds = 0.0
    position = 0
    while position < len(text):
        match = _GO_DURATION_PART.match(text, position)
        if match is None:
            return None
        seconds += float(match.group(1)) * _GO_DURATION_UNITS[match.group(2)]
        position = match.end()
    return timedelta(seconds=sign * seconds)


def parse_uint(value: str, *, default: int) -> int:
    """A paging number as ``strconv.ParseUint`` reads it; ``default`` when empty."""
    if value == "":
        return default
    if not value.isascii() or not value.isdigit():
        raise ApiError(
            400,
            "validation_failed",
            f'Bad Pagination Parameters: strconv.ParseUint: parsing "{value}": invalid syntax',
        )
    return int(value)


def _missing_body() -> Any:
    raise ValueError("unexpected end of JSON input")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


__all__ = [
    "is_bcrypt_hash",
    "parse_create_params",
    "parse_go_duration",
    "parse_uint",
    "parse_uuid",
    "validate_email",
    "validate_phone",
]
