"""Links the commands print to the admin use the deployment's address (issue 22, item 7):
``SYNTHADMIN_ADMIN_URL``, under a sub-path too; without it, the path as before."""

from __future__ import annotations

import json

import pytest

from tests.dbutil import manage
from tests.ops.helpers import test_database_env

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN = "https://synth.example.com/synth/admin/"


def _enqueue(extra: dict[str, str], *args: str):
    env = test_database_env(extra)
    return manage("generate_synthetic", "--patients", "2", "--checkins", "2", "--background", *args, env=env)


def test_the_enqueued_runs_link_is_on_the_deployments_address(supabase_tables_cleanup):
    document = json.loads(_enqueue({"SYNTHADMIN_ADMIN_URL": ADMIN, "SCRIPT_NAME": "/synth"}, "--json").stdout)
    page = f"synthadmin/syntheticrun/{document['run_id']}/change/"
    assert document["admin_url"] == ADMIN + page
    assert document["admin_path"] == f"/synth/admin/{page}"  # the key kept, now with the sub-path
    table = _enqueue({"SYNTHADMIN_ADMIN_URL": ADMIN.rstrip("/")}).stdout
    assert "https://synth.example.com/synth/admin/synthadmin/syntheticrun/" in table


def test_without_it_the_path_as_before(supabase_tables_cleanup):
    document = json.loads(_enqueue({}, "--json").stdout)
    assert document["admin_url"] is None
    assert document["admin_path"] == f"/admin/synthadmin/syntheticrun/{document['run_id']}/change/"


def test_a_relative_admin_url_is_refused_in_one_line():
    result = manage(
        "list_runs", env=test_database_env({"SYNTHADMIN_ADMIN_URL": "/synth/admin/"}), check=False
    )
    assert result.returncode == 1
    assert "SYNTHADMIN_ADMIN_URL must be the admin's full address" in result.stderr
    assert "Traceback" not in result.stderr
