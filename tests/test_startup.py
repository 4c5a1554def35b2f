"""A command starts without the cyclic collector (``synthadmin.startup``) and runs with it: once
Django's apps are ready, what start-up made is frozen and the collector is on again."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

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


#: What only building histories and people needs: the content engine's numpy, the payload
#: contract's pydantic, factory_boy and Faker.
ENGINE_LIBRARIES = ("numpy", "pydantic", "factory", "faker")
LOADED = f"print(sorted(m for m in {ENGINE_LIBRARIES} if m in sys.modules))"


def test_a_process_that_builds_no_history_never_loads_the_engine():
    """The apps, the admin (every page's module, through the URLconf), the system checks, the forms
    and the commands that build nothing (``migrate``, ``purge``, ``export``, ``list_runs``, the
    embedded server's): none of them loads numpy, pydantic, factory_boy or Faker (a second or so
    of every such process's start); the first history built loads numpy."""
    commands = ("migrate", "purge_synthetic", "export_synthetic", "list_runs", "embedded_postgres")
    probe = "; ".join(
        [
            "import importlib, sys",
            "from django.urls import get_resolver",
            "get_resolver().url_patterns",
            "import synthadmin.checks, synthadmin.forms",
            *(f"importlib.import_module('synthadmin.management.commands.{name}')" for name in commands),
            LOADED,
            "from synthadmin.services.population import patient_history",
            "import datetime",
            "patient_history(seed=1, patient_index=0, pattern='stable', days=3, "
            "end_date=datetime.date(2026, 1, 3), adherence=1.0)",
            LOADED,
        ]
    )
    result = manage("shell", "-c", probe, env={"DATABASE_URL": "postgresql://u@127.0.0.1:9/unused"})
    before, after = result.stdout.splitlines()[-2:]
    assert before == "[]", result.stdout
    assert after == "['numpy']", result.stdout  # a history loads the engine (the probe sees it)


def test_a_package_exports_its_engine_names_on_first_use_and_nothing_else():
    import synthadmin.content
    from synthadmin.content.history import build_history

    assert synthadmin.content.build_history is build_history
    assert vars(synthadmin.content)["build_history"] is build_history  # kept: asked once
    misspelt = "build_histories"  # (the type checker flags it too: no __getattr__ for it there)
    with pytest.raises(AttributeError, match=r"'synthadmin\.content' has no attribute 'build_histories'"):
        getattr(synthadmin.content, misspelt)


def test_every_name_the_content_and_services_packages_export_is_there():
    """In a fresh process (nothing loaded before), each name of ``__all__`` resolves."""
    code = (
        "import importlib\n"
        "for package in ('synthadmin.content', 'synthadmin.services'):\n"
        "    module = importlib.import_module(package)\n"
        "    missing = [n for n in module.__all__ if getattr(module, n, None) is None]\n"
        "    print(package, missing, len(module.__all__))\n"
    )
    env = manage_env({"DATABASE_URL": "postgresql://u@127.0.0.1:9/unused"})
    setup = "import django; django.setup()\n"
    result = subprocess.run(
        [sys.executable, "-c", setup + code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    lines = result.stdout.splitlines()
    assert [line.rsplit(" ", 1)[0] for line in lines] == [
        "synthadmin.content []",
        "synthadmin.services []",
    ], result.stdout + result.stderr
