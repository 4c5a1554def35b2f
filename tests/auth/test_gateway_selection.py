"""``SYNTHADMIN_AUTH_BACKEND`` picks the gateway: the two aliases or a dotted path; what cannot
work is a ConfigurationError naming the variable, before any call."""

from __future__ import annotations

import pytest

from synthadmin.auth import get_gateway
from synthadmin.auth.local import LocalAuthGateway
from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.exceptions import ConfigurationError


def test_aliases_and_a_dotted_path(settings):
    settings.SUPABASE_URL = "http://127.0.0.1:9"
    settings.SUPABASE_SERVICE_ROLE_KEY = "a-key-that-is-long-enough-to-redact"
    with get_gateway("local") as local:
        assert isinstance(local, LocalAuthGateway)
    with get_gateway("synthadmin.auth.local.LocalAuthGateway") as dotted:
        assert isinstance(dotted, LocalAuthGateway)
    with get_gateway("SUPABASE") as remote:
        assert isinstance(remote, SupabaseAuthGateway)


@pytest.mark.parametrize(
    ("backend", "url", "key", "words"),
    [
        ("nope", "", "", "unknown auth backend 'nope'"),
        ("synthadmin.auth.local.NoSuchGateway", "", "", "unknown auth backend"),
        ("supabase", "", "k" * 40, "SUPABASE_URL is not set"),
        ("supabase", "db.example.supabase.co", "k" * 40, "SUPABASE_URL must look like https://"),
        ("supabase", "ftp://example.supabase.co", "k" * 40, "SUPABASE_URL must look like https://"),
        ("supabase", "http://[::1", "k" * 40, "SUPABASE_URL must look like https://"),
        ("os.system", "", "", "not a gateway class"),
        ("supabase", "https://example.supabase.co", "", "SUPABASE_SERVICE_ROLE_KEY is not"),
    ],
)
def test_what_cannot_work_is_a_configuration_error(settings, backend, url, key, words):
    settings.SUPABASE_URL, settings.SUPABASE_SERVICE_ROLE_KEY = url, key
    with pytest.raises(ConfigurationError, match=words.replace(".", r"\.").replace("(", r"\(")):
        get_gateway(backend)
