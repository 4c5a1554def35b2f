"""Keep configured secrets out of every text synthadmin shows: logs, errors, DEBUG pages.

The secrets are the Supabase service-role key, the password inside ``DATABASE_URL`` (and
``DATABASES``), Django's ``SECRET_KEY`` and the passwords of the environment's proxy URLs. A
secret can reach a text in several spellings — as is, inside a ``repr`` (escapes), inside JSON
(escapes), URL-quoted, HTML-escaped — so :func:`redact` replaces each spelling. Secrets shorter
than :data:`MIN_SECRET_LENGTH` are left alone: replacing "pw" everywhere would garble every
message and hide nothing.
"""

from __future__ import annotations

import html
import json
import logging
import re
import urllib.request
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from django.utils.safestring import SafeString, mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4


def configured_secrets() -> list[str]:
    """The secrets of the current configuration (read at call time: tests change settings)."""
    from django.conf import settings

    if not settings.configured:
        return []
    found: list[str] = [
        getattr(settings, "SUPABASE_SERVICE_ROLE_KEY", "") or "",
        getattr(settings, "SECRET_KEY", "") or "",
    ]
    for database in getattr(settings, "DATABASES", {}).values():
        found.append(database.get("PASSWORD") or "")
    url = getattr(settings, "DATABASE_URL", "") or ""
    match = re.match(r"^[a-z][a-z0-9+.-]*://[^:/@]*:([^@]*)@", url, re.IGNORECASE)
    if match:
        found += [match.group(1), unquote(match.group(1))]
    found += proxy_passwords()
    return [s for s in found if s]


def proxy_passwords() -> list[str]:
    """The passwords in the environment's proxy URLs (``HTTPS_PROXY=http://user:pw@proxy:3128``)."""
    found: list[str] = []
    for url in urllib.request.getproxies().values():
        match = re.match(r"^(?:[a-z][a-z0-9+.-]*://)?[^:/@]*:([^@/]*)@", url, re.IGNORECASE)
        if match:
            found += [match.group(1), unquote(match.group(1))]
    return found


def spellings(secret: str) -> set[str]:
    """Every form ``secret`` takes in text: raw, repr- and JSON-escaped, URL-quoted, HTML-escaped."""
    forms = {
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        html.escape(secret),
        html.escape(repr(secret)[1:-1]),
    }
    # A repr of a container escapes twice (repr of a list of reprs...): one more level.
    forms |= {repr(form)[1:-1] for form in list(forms)}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


def redact(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every spelling of every secret replaced by ``[redacted]``.

    ``secrets`` defaults to the configured ones (:func:`configured_secrets`).
    """
    if not text:
        return text
    forms: set[str] = set()
    for secret in configured_secrets() if secrets is None else secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            forms |= spellings(secret)
    # Longest first, so a spelling that contains another is replaced whole.
    for form in sorted(forms, key=len, reverse=True):
        if form in text:
            text = text.replace(form, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts secrets from the message and the traceback of each record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: leave it to the handler
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _Shown:
    """A frame variable replaced by its redacted ``repr`` (what the DEBUG page prints)."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


class SecretsExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, plus: DATABASE_URL passwords and the Supabase key are hidden wherever they
    appear — settings (``DATABASE_URL`` itself is not named like a secret), the request's
    environment (``runserver`` copies the process environment into ``request.META``) and the
    local variables of every frame."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str):
            return redact(cleansed)
        return cleansed

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        cleaned = []
        for name, value in variables:
            try:
                shown = repr(value)
            except Exception:  # a broken __repr__ must not break the error page
                shown = f"<{type(value).__name__} object>"
            safe = redact(shown)
            cleaned.append((name, value if safe == shown else _Shown(safe)))
        return cleaned


class SecretsExceptionReporter(ExceptionReporter):
    """The DEBUG error page and its text version with every configured secret redacted.

    The filter above handles settings, environment and frame variables; this also covers the
    exception's own message and anything else the page prints.
    """

    def get_traceback_html(self) -> SafeString:
        # The page was escaped when it was rendered; redaction replaces whole secrets only.
        return mark_safe(redact(super().get_traceback_html()))  # noqa: S308

    def get_traceback_text(self) -> SafeString:
        return mark_safe(redact(super().get_traceback_text()))  # noqa: S308
