"""Configuration from the environment: secrets, the old key name, .env, the auth backend."""

from __future__ import annotations

import subprocess
import sys

from tests.dbutil import ROOT

PRINT = "from django.conf import settings as s; print(s.{})"


def _settings(expr: str, env: dict[str, str], cwd=ROOT) -> subprocess.CompletedProcess:
    # SYNTHADMIN_ENV_FILE empty: the developer's .env (README command 1 makes one) is not read.
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "synthadmin.settings",
        "DATABASE_URL": "postgresql://u@127.0.0.1:9/x",
        "SYNTHADMIN_ENV_FILE": "",
    }
    base.update(env)
    code = PRINT.format(expr)  # the settings module is what is read: no apps need loading
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=base, capture_output=True, text=True, timeout=60
    )


def test_refuses_to_start_without_secret_key_unless_debug():
    result = _settings("DEBUG", {})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    debug = _settings("DEBUG", {"DJANGO_DEBUG": "1"})
    assert debug.returncode == 0 and debug.stdout.strip() == "True"


def test_service_role_key_accepts_the_older_name():
    url = {"DJANGO_DEBUG": "1", "SUPABASE_URL": "https://example.supabase.co"}
    result = _settings("SUPABASE_SERVICE_ROLE_KEY", {**url, "SUPABASE_SERVICE_KEY": "old-name-key"})
    assert result.stdout.strip() == "old-name-key"
    both = _settings(
        "SUPABASE_SERVICE_ROLE_KEY",
        {**url, "SUPABASE_SERVICE_KEY": "old", "SUPABASE_SERVICE_ROLE_KEY": "new"},
    )
    assert both.stdout.strip() == "new"


def test_a_key_without_a_url_is_refused_not_silently_local():
    half = _settings("SYNTHADMIN_AUTH_BACKEND", {"DJANGO_DEBUG": "1", "SUPABASE_SERVICE_ROLE_KEY": "k" * 40})
    assert half.returncode != 0 and "SUPABASE_SERVICE_ROLE_KEY is set but SUPABASE_URL is not" in half.stderr
    assert "k" * 40 not in half.stderr
    chosen = _settings(
        "SYNTHADMIN_AUTH_BACKEND",
        {"DJANGO_DEBUG": "1", "SUPABASE_SERVICE_ROLE_KEY": "k" * 40, "SYNTHADMIN_AUTH_BACKEND": "local"},
    )
    assert chosen.stdout.strip() == "local"


def test_auth_backend_defaults_follow_supabase_url():
    assert _settings("SYNTHADMIN_AUTH_BACKEND", {"DJANGO_DEBUG": "1"}).stdout.strip() == "local"
    with_url = _settings(
        "SYNTHADMIN_AUTH_BACKEND", {"DJANGO_DEBUG": "1", "SUPABASE_URL": "https://x.supabase.co"}
    )
    assert with_url.stdout.strip() == "supabase"
    bad = _settings("SYNTHADMIN_AUTH_BACKEND", {"DJANGO_DEBUG": "1", "SYNTHADMIN_AUTH_BACKEND": "ldap"})
    assert bad.returncode != 0 and "SYNTHADMIN_AUTH_BACKEND must be" in bad.stderr


def test_only_reserved_email_domains_are_allowed():
    bad = _settings("SYNTHADMIN_EMAIL_DOMAIN", {"DJANGO_DEBUG": "1", "SYNTHADMIN_EMAIL_DOMAIN": "gmail.com"})
    assert bad.returncode != 0 and "reserved domain" in bad.stderr


def test_dotenv_file_is_read_and_environment_wins(tmp_path):
    # Settings read .env from the project root; simulate with a copy of the project layout.
    project = tmp_path / "proj"
    (project / "synthadmin").mkdir(parents=True)
    for name in ("settings.py", "__init__.py", "logs.py"):
        (project / "synthadmin" / name).write_text((ROOT / "synthadmin" / name).read_text())
    (project / ".env").write_text("DJANGO_DEBUG=1\nDJANGO_ALLOWED_HOSTS=from-dotenv.example\n")
    code = "import synthadmin.settings as s; print(s.DEBUG, s.ALLOWED_HOSTS)"
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": "postgresql://u@127.0.0.1:9/x",
        "PYTHONPATH": str(project),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip() == "True ['from-dotenv.example']", result.stderr
    env["DJANGO_ALLOWED_HOSTS"] = "from-env.example"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip() == "True ['from-env.example']"


def test_a_stale_threshold_within_three_heartbeats_is_refused():
    """A worker that misses a beat must not be taken for dead while it still runs its chunk."""
    env = {"DJANGO_DEBUG": "1", "SYNTHADMIN_WORKER_HEARTBEAT_SECONDS": "5"}
    refused = _settings("SYNTHADMIN_WORKER_STALE_SECONDS", {**env, "SYNTHADMIN_WORKER_STALE_SECONDS": "10"})
    assert refused.returncode != 0
    line = refused.stderr.strip().splitlines()[-1]
    assert "SYNTHADMIN_WORKER_STALE_SECONDS (10) must be at least 3 x" in line
    assert "SYNTHADMIN_WORKER_HEARTBEAT_SECONDS (5)" in line
    accepted = _settings("SYNTHADMIN_WORKER_STALE_SECONDS", {**env, "SYNTHADMIN_WORKER_STALE_SECONDS": "15"})
    assert accepted.returncode == 0 and accepted.stdout.strip() == "15.0"
