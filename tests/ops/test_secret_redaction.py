"""Secrets are never shown: a service key with whitespace or non-ASCII is refused at startup
(one line, never echoed); a valid key is redacted in every spelling; DEBUG pages hide the key and
the DATABASE_URL password in settings, environment, frame locals and the exception text."""

from __future__ import annotations

import json
import logging
from io import StringIO
from urllib.parse import quote

import httpx
import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from synthadmin.redaction import REDACTED, RedactingFilter, redact
from tests.dbutil import manage

KEY = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXRoYXQtaXMtc2VjcmV0"
DB_PASSWORD = "p@ss w/rd&<secret>"
DATABASE_URL = f"postgresql://postgres:{quote(DB_PASSWORD, safe='')}@db.example.supabase.co:5432/postgres"


@pytest.mark.parametrize(
    "bad_key",
    [
        "eyJhbGciOi\nJIUzI1NiJ9.secret-part-two",  # a quoted .env value wrapped over two lines
        "eyJhbGciOi JIUzI1NiJ9.secret-part-two",
        "eyJhbGciOiJIUzI1NiJ9.sécret-part-two",
    ],
)
def test_a_key_with_whitespace_or_non_ascii_is_refused_at_startup_without_echo(bad_key):
    result = manage(
        "check",
        env={"SUPABASE_URL": "https://x.supabase.co", "SUPABASE_SERVICE_ROLE_KEY": bad_key},
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "SUPABASE_SERVICE_ROLE_KEY" in lines[0], result.stderr
    output = result.stdout + result.stderr
    for part in ("eyJhbGciOi", "secret-part-two", "JIUzI1NiJ9"):
        assert part not in output


def test_every_spelling_of_a_valid_key_is_redacted():
    texts = {
        "raw": f"401 Unauthorized: Bearer {KEY}",
        "repr": f"error: {KEY!r} refused",
        "repr of a container": f"headers {{'apikey': {KEY!r}}}",
        "json": json.dumps({"apikey": KEY, "nested": json.dumps({"k": KEY})}),
        "url-quoted": str(httpx.URL("https://x.supabase.co/auth/v1/admin/users", params={"apikey": KEY})),
        "httpx error": str(
            httpx.HTTPStatusError(
                f"Client error for url {httpx.URL('https://x/', params={'k': KEY})}",
                request=httpx.Request("GET", "https://x/"),
                response=httpx.Response(401),
            )
        ),
    }
    for form, text in texts.items():
        redacted = redact(text, [KEY])
        assert KEY not in redacted and quote(KEY, safe="") not in redacted, form
        assert REDACTED in redacted, form
    # Odd characters get escaped differently by each spelling; every one is caught.
    odd = 'k3y"with\\odd/chars&+='
    for text in (odd, repr(odd), json.dumps(odd), quote(odd, safe=""), repr([odd])):
        assert odd not in redact(text, [odd]) and REDACTED in redact(text, [odd]), text


def test_redact_defaults_to_the_configured_secrets(settings):
    settings.SUPABASE_SERVICE_ROLE_KEY = KEY
    settings.DATABASE_URL = DATABASE_URL
    text = f"cannot connect to {DATABASE_URL} with key {KEY!r} (password {DB_PASSWORD!r})"
    redacted = redact(text)
    assert KEY not in redacted and DB_PASSWORD not in redacted and quote(DB_PASSWORD, safe="") not in redacted


def test_log_records_are_redacted_message_and_traceback(settings):
    settings.SUPABASE_SERVICE_ROLE_KEY = KEY
    stream = StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("synthadmin.tests.redaction")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"refused {KEY!r}")
        except RuntimeError:
            logger.exception("call with key %s failed", KEY)
    finally:
        logger.removeHandler(handler)
    assert KEY not in stream.getvalue()
    assert stream.getvalue().count(REDACTED) >= 2


def test_synthadmin_log_handlers_carry_the_filter():
    handlers = logging.getLogger("synthadmin").handlers
    assert handlers and all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in handlers)


def _failing_view(request: HttpRequest) -> HttpResponse:
    service_key = KEY  # frame locals, as a gateway would hold them
    database_url = DATABASE_URL
    raise RuntimeError(f"Auth refused {service_key!r} while {database_url} was in use")


urlpatterns = [path("boom/", _failing_view)]


def test_debug_500_page_shows_neither_key_nor_database_password(settings):
    settings.DEBUG = True
    settings.ROOT_URLCONF = __name__
    settings.SUPABASE_SERVICE_ROLE_KEY = KEY
    settings.DATABASE_URL = DATABASE_URL
    client = Client(raise_request_exception=False)
    # runserver copies the process environment into request.META: so does this request.
    response = client.get(
        "/boom/", DATABASE_URL=DATABASE_URL, SUPABASE_SERVICE_ROLE_KEY=KEY, HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 500
    page = response.content.decode()
    assert "RuntimeError" in page and "service_key" in page  # it is the DEBUG page
    for secret in (KEY, DB_PASSWORD, quote(DB_PASSWORD, safe=""), "p@ss", "&lt;secret&gt;"):
        assert secret not in page, secret
    text = client.get("/boom/", HTTP_ACCEPT="text/plain").content.decode()
    assert "RuntimeError" in text and KEY not in text and quote(DB_PASSWORD, safe="") not in text
