"""Logs (issue 22, item 4): on stderr, one line per event, JSON with
``SYNTHADMIN_LOG_FORMAT=json``, the run id on every line of a run — also on lines logged by the
threads that make its users; stdout stays the ``--json`` document."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.logs import JsonFormatter, PlainFormatter, RunIdFilter, run_log_scope
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.auth.conftest import test_database_conninfo
from tests.dbutil import manage
from tests.ops.helpers import test_database_env
from tests.support.gotrue import GoTrueDouble

pytestmark = pytest.mark.django_db(transaction=True)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(RunIdFilter())
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def collected():
    handler = _Collect()
    logger = logging.getLogger("synthadmin")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def auth(supabase_tables_cleanup, fast_retries):
    """The Auth test server and a Supabase gateway on it."""
    with GoTrueDouble(conninfo=test_database_conninfo()) as double:
        with SupabaseAuthGateway(url=double.url, key=double.service_role_key, timeout=2.0) as gateway:
            yield double, gateway


def test_every_line_of_a_run_carries_its_id_threads_included(collected, auth):
    auth_server, supabase_gateway = auth
    auth_server.faults.fail_next(3, status=503)  # retries, logged by the threads making users
    report = population_generate(
        request=GenerationRequest(
            patients=4, checkin_days=3, seed=1, end_date=dt.date(2026, 6, 1), concurrency=4
        ),
        started_by=Starter("os:tester"),
        gateway=supabase_gateway,
    )
    purge = synthetic_users_purge(run=report.run_id, gateway=supabase_gateway)
    assert purge.users_deleted == 4
    run_id = str(report.run_id)
    lines = [line for line in collected if line["logger"] != "synthadmin.db"]
    retries = [line for line in lines if line["logger"] == "synthadmin.retry"]
    assert len(retries) >= 3
    assert {line.get("run_id") for line in lines} == {run_id}, lines
    messages = [line["message"] for line in lines]
    assert f"run {run_id} started by os:tester" in messages
    assert f"run {run_id} ended succeeded" in messages
    for line in lines:
        assert set(line) >= {"ts", "level", "logger", "message"}


def test_lines_outside_a_run_have_no_run_id_and_a_traceback_stays_on_one_line():
    logger = logging.getLogger("synthadmin.tests")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logger.makeRecord(
            "synthadmin.tests",
            logging.ERROR,
            __file__,
            1,
            "failed: %s",
            ("x",),
            exc_info=__import__("sys").exc_info(),
        )
    RunIdFilter().filter(record)
    document = json.loads(JsonFormatter().format(record))
    assert "run_id" not in document and document["message"] == "failed: x"
    assert "ValueError: boom" in document["exc"]
    plain = PlainFormatter().format(record)
    assert "\n" not in plain and plain.startswith("ERROR synthadmin.tests: failed: x | Traceback")
    with run_log_scope("abc"):
        record = logger.makeRecord("synthadmin.tests", logging.INFO, __file__, 1, "hello", (), None)
        RunIdFilter().filter(record)
    assert PlainFormatter().format(record) == "INFO synthadmin.tests: hello [run abc]"


def test_a_command_logs_json_lines_on_stderr_and_its_document_on_stdout(supabase_tables_cleanup):
    env = test_database_env({"SYNTHADMIN_LOG_FORMAT": "json", "SYNTHADMIN_LOG_LEVEL": "INFO"})
    result = manage("generate_synthetic", "--patients", "2", "--checkins", "3", "--json", env=env)
    document = json.loads(result.stdout)  # stdout: the --json document, nothing else
    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every stderr line is JSON
    run_lines = [line for line in lines if line.get("run_id")]
    assert {line["run_id"] for line in run_lines} == {document["run_id"]}
    assert any(line["message"].endswith("ended succeeded") for line in run_lines)
    assert any(line["logger"] == "synthadmin.db" and line["message"].startswith("using ") for line in lines)
