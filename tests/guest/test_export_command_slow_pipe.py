"""``export_synthetic`` writing to a pipe whose reader stops for longer than the database's
``idle_in_transaction_session_timeout``: every row, exactly. An export whose database session is
ended part way exits 3 with one line, and leaves nothing at ``--output``; so does ``kill -9``
(only a hidden ``.partial`` file, named as such)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.dbutil import ROOT
from tests.guest.export_support import (
    PAUSE_SECONDS,
    app_env,
    idle_in_transaction_timeout,
    population_generate_large,
    sessions_of_app_terminate,
    waiting_states,
)

pytestmark = pytest.mark.usefixtures("supabase_tables_cleanup")


@pytest.fixture
def export_start() -> Iterator[Callable[..., subprocess.Popen]]:
    """``export_start(*args)``: ``manage.py export_synthetic *args`` started; killed if a test
    leaves it running."""
    started: list[subprocess.Popen] = []

    def start(*args: str, stdout: int | None = subprocess.PIPE) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "export_synthetic", *args],
            cwd=ROOT,
            env=app_env(),
            stdout=stdout,
            stderr=subprocess.PIPE,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _wait_for_bytes(directory: Path, process: subprocess.Popen) -> Path:
    """The hidden ``.partial`` file once the export has written into it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        for found in directory.glob(".*.partial-*"):
            if found.stat().st_size > 0:
                return found
        time.sleep(0.005)
    raise AssertionError("the export wrote nothing")


def test_a_paused_pipe_gets_every_row_exactly(export_start):
    population = population_generate_large()
    with idle_in_transaction_timeout():
        export = export_start("--run", population.run_id)
        head = export.stdout.read(65536)
        waiting = waiting_states()  # blocked on the full pipe
        time.sleep(PAUSE_SECONDS)  # longer than the timeout
        rest, err = export.communicate(timeout=60)

    assert export.returncode == 0, err
    assert head + rest == population.csv
    assert waiting == ["idle"]  # no transaction was left open while the reader stopped
    assert f"Exported {population.rows:,} check-ins".encode() in err


def test_a_session_ended_part_way_exits_3_and_says_the_output_is_incomplete(export_start):
    population = population_generate_large()
    export = export_start("--run", population.run_id)
    head = export.stdout.read(65536)
    waiting_states()
    sessions_of_app_terminate()
    rest, err = export.communicate(timeout=60)

    assert export.returncode == 3
    assert 0 < len(head + rest) < len(population.csv)
    lines = err.decode().strip().splitlines()
    assert "Traceback" not in err.decode()
    assert lines[-1].startswith("CommandError: export stopped part way after ")
    assert lines[-1].endswith("standard output is incomplete")


def test_a_session_ended_part_way_leaves_no_output_file(tmp_path, export_start):
    population = population_generate_large()
    target = tmp_path / "run.csv"
    export = export_start("--run", population.run_id, "--output", str(target), stdout=subprocess.DEVNULL)
    partial = _wait_for_bytes(tmp_path, export)
    os.kill(export.pid, signal.SIGSTOP)  # part way, for certain
    try:
        assert partial.exists() and not target.exists()
        assert sessions_of_app_terminate() >= 1
    finally:
        os.kill(export.pid, signal.SIGCONT)
    _, err = export.communicate(timeout=60)

    assert export.returncode == 3, err
    assert f"nothing kept at {target}" in err.decode()
    assert list(tmp_path.iterdir()) == []


def test_kill_9_part_way_leaves_nothing_at_the_output_path(tmp_path, export_start):
    population = population_generate_large()
    target = tmp_path / "run.csv"
    export = export_start("--run", population.run_id, "--output", str(target), stdout=subprocess.DEVNULL)
    partial = _wait_for_bytes(tmp_path, export)
    export.kill()
    export.communicate(timeout=60)

    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir()] == [partial.name]  # named as what it is
