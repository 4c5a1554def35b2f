"""Shared fixtures: the real PostgreSQL (embedded or ``DATABASE_URL``) with the Supabase shape,
each xdist worker's share of the machine (``tests/parallel.py``), and screenshots."""

from __future__ import annotations

import gc
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from synthadmin.db.base import describe
from tests.dbutil import ROOT, embedded_directory, scratch_databases_drop
from tests.parallel import (
    machine_share,
    run_dir,
    run_dir_remove,
    run_id,
    run_id_assign,
    template_drop,
    template_migrated,
)

#: Where browser tests save their screenshots (git-ignored).
ARTIFACTS = ROOT / "tests" / "artifacts"
#: Where the docs keep the screenshots they show (written only with ``--update-docs``).
DOCS = ROOT / "docs"
CALL_PASSED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-docs",
        action="store_true",
        help="copy the screenshots the docs show into docs/ (run: python -m pytest -m screenshots --update-docs)",
    )


def pytest_configure(config: pytest.Config) -> None:
    run_id_assign(config)
    from tests import dbreset

    dbreset.install()  # a test that commits is followed by a flush of the tables it changed only


def pytest_collection_finish(session: pytest.Session) -> None:
    # Django, the test modules and their imports stay for the whole session: frozen, the
    # collector no longer traverses them in every full collection (synthadmin.startup).
    gc.collect()
    gc.freeze()


def pytest_report_header(config: pytest.Config) -> str:
    return f"synthadmin database: {describe(settings.DATABASES['default'])}"


@pytest.hookimpl(trylast=True)  # after pytest-django's own ordering
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that run alone go last, one after another: each one otherwise waits for the test
    # every other worker is running to end, and those workers then wait for it.
    items.sort(key=lambda item: item.get_closest_marker("exclusive") is not None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_PASSED] = report.passed
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    scratch_databases_drop()  # this process's (worker or single run)
    if hasattr(session.config, "workerinput"):
        return  # the controller cleans up once every worker has ended
    template_drop(session.config, settings.DATABASES["default"])
    run_dir_remove(session.config)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, request: pytest.FixtureRequest
) -> None:
    """Each worker's test database is a clone of the run's migrated template, named for the run
    too (``test_<name>_gw0_<run>``), so two suites on one server (two clones, CI and a developer)
    never drop each other's databases."""
    database = settings.DATABASES["default"]
    with machine_share(run_dir(request.config), alone=False):
        template = template_migrated(request.config, database)
    test = database.setdefault("TEST", {})
    test["TEMPLATE"] = template
    test["NAME"] = f"{test.get('NAME') or 'test_' + database['NAME']}_{run_id(request.config)[:8]}"


@pytest.fixture(autouse=True)
def machine_lock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test holds its share of the machine; a test marked ``exclusive`` holds all of it."""
    alone = request.node.get_closest_marker("exclusive") is not None
    with machine_share(run_dir(request.config), alone=alone):
        yield


@pytest.fixture
def embedded_tmp() -> Iterator[Path]:
    """A directory for a test's own embedded server (``tests.dbutil.embedded_directory``)."""
    with embedded_directory() as directory:
        yield directory


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Iterator[Callable[..., Path]]:
    """``screenshot(page, "name.png", docs=True)``: a full-page screenshot in ``tests/artifacts/``.

    With ``--update-docs``, the ones marked ``docs`` are copied into ``docs/`` once the test passed.
    """
    for_docs: list[Path] = []

    def take(page: Any, name: str, *, docs: bool = False) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        page.screenshot(path=str(path), full_page=True)
        if docs:
            for_docs.append(path)
        return path

    yield take
    if request.config.getoption("update_docs") and request.node.stash.get(CALL_PASSED, False):
        for path in for_docs:
            shutil.copyfile(path, DOCS / path.name)


@pytest.fixture
def supabase_tables_cleanup(transactional_db: None):
    """Empty the Supabase tables after a test that commits.

    Django's flush only empties Django's own (managed) tables; ``auth.users`` cascades to
    identities, profiles and check-ins.
    """
    yield
    with connection.cursor() as cursor:
        # Empty already (every table that references it then is too): no TRUNCATE of a dozen tables.
        cursor.execute("SELECT EXISTS (SELECT 1 FROM auth.users)")
        if cursor.fetchone()[0]:
            cursor.execute("TRUNCATE auth.users CASCADE")


@pytest.fixture
def real_population(supabase_tables_cleanup):
    """Real users the app owns (a therapist, three patients with history, a NULL-flag legacy one).

    Returns the snapshot of every real row, for ``assert_invariants``.
    """
    from tests.realdata import insert_real_user, snapshot_real_rows

    therapist = insert_real_user(role="therapist", email="dr.real@example.org")
    for _ in range(3):
        insert_real_user(therapist_id=therapist, checkins=5)
    insert_real_user(is_test_patient=None, email="legacy@example.org", checkins=2)
    return snapshot_real_rows()


@pytest.fixture
def fast_retries(settings):
    """Backoff in milliseconds, so retry tests stay fast (the policy itself is unchanged)."""
    settings.SYNTHADMIN_AUTH_RETRY_BASE_SECONDS = 0.001
    settings.SYNTHADMIN_AUTH_RETRY_MAX_WAIT = 0.01
    return settings
