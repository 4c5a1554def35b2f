"""A command starts without the cyclic collector (``synthadmin.startup``) and runs with it: once
Django's apps are ready, what start-up made is frozen and the collector is on again."""

from __future__ import annotations

import gc
import subprocess
import sys

from synthadmin.startup import collection_pause, collection_resume
from tests.dbutil import ROOT, manage, manage_env

PROBE = "import gc; print(gc.isenabled(), gc.get_freeze_count() > 10_000)"


def test_a_command_runs_with_the_collector_on_and_its_start_up_frozen():
    result = manage("shell", "-c", PROBE, env={"DATABASE_URL": "postgresql://u@127.0.0.1:9/unused"})
    assert result.stdout.splitlines()[-1] == "True True", result.stdout


def test_resume_without_a_pause_leaves_the_collector_alone():
    frozen = gc.get_freeze_count()
    collection_resume()  # the test runner never paused it
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    gc.disable()
    try:
        collection_pause()  # already off (someone else's choice): not ours to turn back on
        collection_resume()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_importing_the_wsgi_module_after_set_up_leaves_the_collector_on():
    # Django set up first (no app's ready() runs again when the WSGI module is imported then).
    code = "import django, gc; django.setup(); import synthadmin.wsgi; print(gc.isenabled())"
    env = manage_env({"DATABASE_URL": "postgresql://u@127.0.0.1:9/unused"})
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr


def test_a_wsgi_start_that_fails_leaves_the_collector_on():
    code = (
        "import gc\ntry:\n    import synthadmin.wsgi\nexcept Exception as exc:\n"
        "    print(type(exc).__name__, gc.isenabled())"
    )
    env = manage_env({"DATABASE_URL": "postgresql://u@127.0.0.1:9/unused", "SYNTHADMIN_AUTH_BACKEND": "ldap"})
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "ImproperlyConfigured True", result.stderr
