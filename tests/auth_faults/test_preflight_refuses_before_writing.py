"""Supabase Auth unusable from the start — unreachable (a refused port, a name that does not
resolve), a wrong key, the anon key — is said in one line before anything is written: exit 1
for the commands (inline, ``--background``, purge), a form error in the admin (preview and
Generate); no run, no ledger entry, no task, no Auth user, profile or check-in; the key never
shown. Real parts: the Auth test server over real HTTP, the real client, PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.exceptions import ConfigurationError
from synthadmin.management import exitcodes
from synthadmin.services.chunks import run_enqueue
from synthadmin.services.ledger import Starter
from synthadmin.services.preflight import auth_preflight
from synthadmin.services.requests import GenerationRequest
from tests.admin.conftest import _staff
from tests.auth_faults.conftest import command_env, dead_url, error_lines, generate, run_command
from tests.invariants import assert_invariants
from tests.support.gotrue import GoTrueDouble

UNRESOLVABLE = "https://no-such-host.invalid"
WRONG_KEY = "eyJ-not-the-service-role-key-0123456789"
GENERATE = "admin:profiles_profile_generate"


def counts() -> dict[str, int]:
    """Rows that a refused run must not have added, by SQL."""
    tables = {
        "runs": "synthadmin_syntheticrun",
        "ledger": "synthadmin_syntheticuser",
        "held_logins": "synthadmin_heldlogin",
        "chunks": "synthadmin_runchunk",
        "tasks": "django_tasks_database_dbtaskresult",
        "auth_users": "auth.users",
        "profiles": "public.profiles",
        "check_ins": "public.check_ins",
    }
    found = {}
    with connection.cursor() as cursor:
        for name, table in tables.items():
            cursor.execute(f"SELECT count(*) FROM {table}")
            found[name] = cursor.fetchone()[0]
    return found


def _env(url: str, key: str) -> dict[str, str]:
    env = command_env(url=url)  # the supabase backend at ``url``, fast backoff
    env["SUPABASE_SERVICE_ROLE_KEY"] = key
    return env


def _case(name: str, server: GoTrueDouble) -> tuple[str, str, list[str]]:
    """(SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY, words the one line must hold) for a case."""
    if name == "refused port":
        url = dead_url()
        return (
            url,
            WRONG_KEY,
            [f"cannot reach Supabase Auth at {url}", "(connection refused)", "SUPABASE_URL"],
        )
    if name == "unresolvable host":
        return UNRESOLVABLE, WRONG_KEY, [f"at {UNRESOLVABLE} (name not resolved)", "SUPABASE_URL"]
    refused = [f"Supabase Auth at {server.url} refused the service-role key", "SUPABASE_SERVICE_ROLE_KEY"]
    if name == "wrong key":
        return server.url, WRONG_KEY, [*refused, "(403 bad_jwt"]
    return server.url, server.anon_key, [*refused, "(403 not_admin", "anon key"]


CASES = ["refused port", "unresolvable host", "wrong key", "anon key"]


@pytest.mark.parametrize("background", [False, True], ids=["inline", "background"])
@pytest.mark.parametrize("case", CASES)
def test_generate_command_refuses_in_one_line_and_writes_nothing(
    real_population, auth_server, case, background
):
    url, key, words = _case(case, auth_server)
    before = counts()

    args = ["generate_synthetic", "--patients", "5", "--checkins", "5"] + (
        ["--background"] if background else []
    )
    result, seconds = run_command(*args, env=_env(url, key))

    assert result.returncode == exitcodes.INVALID, result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("CommandError: ") and all(word in line for word in words), line
    assert key not in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert seconds < 30
    assert counts() == before  # no run, no ledger row, no task, no user
    assert auth_server.call_count("create") == 0
    assert_invariants(real_population)


def test_credentials_file_is_not_created_when_auth_is_unreachable(real_population, tmp_path):
    target = tmp_path / "logins.csv"
    result, _ = run_command(
        "generate_synthetic",
        "--patients",
        "2",
        "--credentials-out",
        str(target),
        env=command_env(url=dead_url()),
    )
    assert result.returncode == exitcodes.INVALID, result.stderr
    assert "cannot reach Supabase Auth" in result.stderr
    assert not target.exists()


def test_purge_refuses_before_touching_anything(real_population, auth_server, supabase_gateway):
    made = generate(supabase_gateway, patients=2)
    assert made.status == "succeeded"
    before = counts()

    for url, key in [(dead_url(), WRONG_KEY), (auth_server.url, WRONG_KEY)]:
        result, _ = run_command(
            "purge_synthetic",
            "--run",
            str(made.run_id),
            "--yes",
            env=_env(url, key),
        )
        assert result.returncode == exitcodes.INVALID, result.stderr
        (line,) = error_lines(result.stderr)
        assert url in line and key not in result.stdout + result.stderr
    assert counts() == before  # nothing deleted, no entry marked
    assert auth_server.call_count("delete") == 0


def test_services_raise_configuration_error_before_any_write(real_population, auth_server, settings):
    settings.SYNTHADMIN_AUTH_BACKEND = "supabase"
    settings.SUPABASE_URL, settings.SUPABASE_SERVICE_ROLE_KEY = auth_server.url, WRONG_KEY
    before = counts()
    request = GenerationRequest(patients=3, checkin_days=5)
    with pytest.raises(ConfigurationError, match="refused the service-role key") as refused:
        run_enqueue(request=request, started_by=Starter("os:preflight"))
    assert "\n" not in str(refused.value) and WRONG_KEY not in str(refused.value)
    with pytest.raises(ConfigurationError, match="SUPABASE_SERVICE_ROLE_KEY"):
        generate(None, patients=3)
    settings.SUPABASE_SERVICE_ROLE_KEY = auth_server.service_role_key
    auth_preflight()  # the right key: passes, and still writes nothing
    assert counts() == before
    assert auth_server.call_count("get") == 3 and auth_server.call_count("create") == 0  # one probe each


def test_preflight_rides_out_a_blip_and_reports_a_lasting_5xx(real_population, auth_server, supabase_gateway):
    auth_server.faults.fail_next(1, status=503, route="get")
    auth_preflight(gateway=supabase_gateway)  # one 503, then 404: passes

    auth_server.faults.fail_next(10, status=503, route="get")
    # A new gateway: one whose preflight passed asks nothing again.
    with SupabaseAuthGateway(url=auth_server.url, key=auth_server.service_role_key, timeout=0.5) as fresh:
        with pytest.raises(ConfigurationError, match=r"gave no usable answer \(HTTP 503\)"):
            auth_preflight(gateway=fresh)


def test_a_url_that_is_not_supabase_auth_is_named(real_population, auth_server, supabase_gateway):
    auth_server.faults.fail_next(1, status=404, html=True, route="get")
    with pytest.raises(ConfigurationError, match="not Supabase Auth's") as wrong:
        auth_preflight(gateway=supabase_gateway)
    assert "SUPABASE_URL" in str(wrong.value) and "<html" not in str(wrong.value).lower()


@pytest.mark.parametrize("case", ["refused port", "wrong key", "anon key"])
def test_admin_form_shows_the_one_line_and_writes_nothing(real_population, auth_server, client, case):
    url, key, words = _case(case, auth_server)
    client.force_login(_staff("preflighter", "generate_synthetic_data"))
    form = {
        "patients": "3",
        "therapists": "1",
        "checkin_days": "5",
        "pattern": "stable",
        "seed": "7",
        "end_date": "",
    }
    healthy = {"SUPABASE_URL": auth_server.url, "SUPABASE_SERVICE_ROLE_KEY": auth_server.service_role_key}
    with override_settings(SYNTHADMIN_AUTH_BACKEND="supabase", **healthy):
        # A preview while Auth was fine: its Generate button carries a valid token.
        token = client.post(reverse(GENERATE), {**form, "_preview": "Preview"}).context["preview_token"]
    before = counts()
    with override_settings(
        SYNTHADMIN_AUTH_BACKEND="supabase", SUPABASE_URL=url, SUPABASE_SERVICE_ROLE_KEY=key
    ):
        preview = client.post(reverse(GENERATE), {**form, "_preview": "Preview"})
        generated = client.post(reverse(GENERATE), {**form, "preview_token": token, "_generate": "Generate"})
    for response in (preview, generated):
        assert response.status_code == 200  # the form again, not a preview or a run
        assert "preview" not in response.context
        errors = response.context["form"].non_field_errors()
        assert len(errors) == 1 and all(word in errors[0] for word in words), errors
        assert key not in response.content.decode()
    assert counts() == before
    assert auth_server.call_count("create") == 0


def test_a_command_checks_auth_once(real_population, auth_server, tmp_path):
    """The command checks before it creates the credentials file, and the service it calls checks
    again on the same gateway: one probe reaches Auth, not two."""
    result, _took = run_command(
        "generate_synthetic",
        "--patients",
        "2",
        "--checkins",
        "3",
        "--credentials-out",
        str(tmp_path / "logins.csv"),
        env=command_env(auth_server),
    )
    assert result.returncode == 0, result.stderr
    assert auth_server.call_count("get") == 1 and auth_server.call_count("create") == 2
