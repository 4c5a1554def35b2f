"""The production server as the README runs it: its serve and worker commands (read from their
markers), with ``DJANGO_DEBUG=0``, on a free port, on the test database.

``production_server(**env)`` starts the serve command in a shell, as an operator would, and
waits until ``/healthz`` answers; it is stopped (SIGTERM to its process group) at the end.
``readme_worker(**env)`` starts the worker command the same way. Static files are collected
once per session into a directory of the session's (the first server collects them; the rest
find them fresh).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.dbutil import ROOT
from tests.ops.helpers import test_database_env

README = ROOT / "README.md"
#: What every production server of these tests gets (the documented production variables).
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "deploy-tests-" + "k" * 50,
    "WEB_CONCURRENCY": "1",
    "SYNTHADMIN_WEB_THREADS": "4",
    "PYTHONUNBUFFERED": "1",
}


def readme_command(marker: str) -> str:
    """The first line of the fenced block right after ``<!-- marker -->`` in the README."""
    lines = README.read_text().splitlines()
    at = lines.index(f"<!-- {marker} -->")
    assert lines[at + 1].startswith("```"), f"no fenced block right after <!-- {marker} -->"
    return lines[at + 2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _env(static_root: Path, extra: dict[str, str]) -> dict[str, str]:
    env = test_database_env({**PRODUCTION, "DJANGO_STATIC_ROOT": str(static_root), **extra})
    # The virtualenv's programs (gunicorn) on PATH, as after `. .venv/bin/activate`.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("staticfiles") / "static"


@pytest.fixture
def production_server(static_root, tmp_path):
    """``start(**env)``: the README's serve command running; every one started is stopped."""
    started: list[subprocess.Popen] = []

    def start(**extra: str) -> Server:
        port = free_port()
        log = tmp_path / f"server-{port}.log"
        env = _env(static_root, {"PORT": str(port), **extra})
        with open(log, "w") as out:
            process = subprocess.Popen(
                ["bash", "-c", readme_command("deploy:serve-command")],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        server = Server(process, port, log)
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the serve command exited {process.returncode}:\n{server.output()}")
            try:
                httpx.get(f"{server.url}{extra.get('SCRIPT_NAME', '')}/healthz", timeout=2)
                return server
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"the server did not come up:\n{server.output()}"
                time.sleep(0.2)

    yield start
    for process in started:
        _stop(process)


@pytest.fixture
def readme_worker(static_root, tmp_path):
    """``start(**env)``: the README's worker command running; stopped (SIGTERM) at the end."""
    started: list[subprocess.Popen] = []

    def start(**extra: str) -> subprocess.Popen:
        env = _env(static_root, {"SYNTHADMIN_WORKER_HEARTBEAT_SECONDS": "0.2", **extra})
        env.setdefault("SYNTHADMIN_WORKER_STALE_SECONDS", "3")
        process = subprocess.Popen(
            ["bash", "-c", readme_command("deploy:worker-command")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        _stop(process)


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)


def csrf_token(html: str) -> str:
    marker = 'name="csrfmiddlewaretoken" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def production_user(username: str, password: str, **fields: object):
    """A staff user whose password the production server can check: the suite hashes with MD5
    for speed, which production settings do not accept; this one is hashed with PBKDF2."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher
    from django.contrib.auth.models import User

    hasher = PBKDF2PasswordHasher()
    encoded = hasher.encode(password, hasher.salt(), iterations=1000)  # cheap: a test's password
    return User.objects.create(username=username, password=encoded, **{"is_staff": True, **fields})
