"""Killed between the Auth call and the database write, on the live shape (signup trigger): the
trigger's profile stays unflagged — it looks real. Purge still finds it (ledger + the Auth user's
``app_metadata`` marker) and removes it and its Auth user; real rows stay byte-identical."""

from __future__ import annotations

import signal

import pytest
from django.db import connection

from synthadmin.failpoints import AFTER_AUTH_CREATE, ENV
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.ledger import runs_reap_interrupted
from synthadmin.services.purge import synthetic_users_purge
from tests.dbutil import database_url, manage
from tests.realdata import snapshot_real_rows


def _rows(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


@pytest.mark.parametrize("backend", ["local", "supabase"])
def test_kill_9_after_the_auth_call_leaves_an_unflagged_profile_that_purge_removes(
    live_shape, real_rows, backend, request
):
    env = {"DATABASE_URL": database_url(connection.settings_dict["NAME"]), ENV: AFTER_AUTH_CREATE}
    gateway = None
    if backend == "supabase":
        server = request.getfixturevalue("auth_server")
        gateway = request.getfixturevalue("supabase_gateway")
        env.update({"SUPABASE_URL": server.url, "SUPABASE_SERVICE_ROLE_KEY": server.service_role_key})
    result = manage(
        "generate_synthetic", "--patients", "3", "--checkins", "5", "--concurrency", "1", env=env, check=False
    )
    assert result.returncode == -signal.SIGKILL, result.stderr

    run = SyntheticRun.objects.get()
    assert run.status == "running"  # nobody was left to say otherwise...
    # ...until the next command looks: its owner process is gone.
    assert [r.id for r in runs_reap_interrupted()] == [run.id]
    run.refresh_from_db()
    assert run.status == "interrupted" and "purge" in run.error_summary
    intents = list(SyntheticUser.objects.filter(run=run, state="intent").values_list("user_id", flat=True))
    assert len(intents) >= 1
    # The signup trigger's profile: there, unflagged, source 'signup' — indistinguishable from real.
    orphans = _rows(
        "SELECT p.is_test_patient, p.source FROM public.profiles p JOIN auth.users u ON u.id = p.id "
        "WHERE p.id = ANY(%s) AND u.raw_app_meta_data ? 'synthadmin'",
        [intents],
    )
    assert orphans and all(flag is False and source == "signup" for flag, source in orphans)

    report = synthetic_users_purge(run=run.id, gateway=gateway)

    assert report.users_deleted >= len(orphans) and report.left_alone == [] and report.errors == []
    assert _rows("SELECT count(*) FROM auth.users WHERE raw_app_meta_data ? 'synthadmin'") == [(0,)]
    assert _rows("SELECT count(*) FROM public.profiles WHERE id = ANY(%s)", [intents]) == [(0,)]
    assert not SyntheticUser.objects.filter(state="intent").exists()
    run.refresh_from_db()
    assert run.purged_at is not None
    assert snapshot_real_rows() == real_rows
