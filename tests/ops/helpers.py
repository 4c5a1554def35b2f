"""Helpers shared by the operations tests: a ``manage.py`` subprocess that can be signalled."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from django.db import connection

from tests.dbutil import ROOT, database_url, manage_env


def test_database_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean ``manage.py`` environment pointed at the test database."""
    env = {"DATABASE_URL": database_url(connection.settings_dict["NAME"]), "PYTHONUNBUFFERED": "1"}
    env.update(extra or {})
    return manage_env(env)


test_database_env.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test (pytest reads it)


#: Runs manage.py with SIGINT and SIGHUP at their defaults whatever this process inherited: a
#: suite started as a script's background job (``pytest &``) has them ignored, and children
#: inherit that (then Ctrl-C or a hangup would do nothing, as for any program).
WITH_DEFAULT_SIGNALS = (
    "import runpy, signal, sys; "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "signal.signal(signal.SIGHUP, signal.SIG_DFL); "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def manage_argv(*args: str, ignored: tuple[signal.Signals, ...] = ()) -> list[str]:
    """The command line of ``python manage.py *args`` with default signal handling (or with the
    ``ignored`` signals ignored, as ``nohup`` or a shell's background job leaves them)."""
    code = WITH_DEFAULT_SIGNALS
    for signum in ignored:
        code = code.replace(
            "sys.argv = sys.argv[1:]",
            f"signal.signal({int(signum)}, signal.SIG_IGN); sys.argv = sys.argv[1:]",
        )
    return [sys.executable, "-c", code, str(ROOT / "manage.py"), *args]


def start_manage(
    *args: str, env: dict[str, str], ignored: tuple[signal.Signals, ...] = ()
) -> subprocess.Popen:
    return subprocess.Popen(
        manage_argv(*args, ignored=ignored),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, *, timeout: float = 60) -> None:
    """Poll ``condition`` until true; fail if the process ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the command ended early ({process.returncode}):\n{out}\n{err}")
        assert time.monotonic() < deadline, "timed out waiting for the command"
        time.sleep(0.05)


def finish(process: subprocess.Popen, *, timeout: float = 120) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@contextlib.contextmanager
def frozen(process: subprocess.Popen) -> Iterator[None]:
    """The process stopped (SIGSTOP) for the block: alive, but it reads nothing, so it cannot
    stop when asked; thawed (SIGCONT) at the end, whatever the block raised."""
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)


def run_ended_days_ago(patients: int, days_ago: int, *, checkin_days: int = 3, seed: int = 21):
    """A succeeded generate run (in this process) of ``patients`` with full adherence, whose
    histories of ``checkin_days`` ended ``days_ago`` days ago: days for an extension to add."""
    import datetime as dt

    from django.utils import timezone

    from synthadmin.models import SyntheticRun
    from synthadmin.services.generation import population_generate
    from synthadmin.services.ledger import Starter
    from synthadmin.services.requests import GenerationRequest

    report = population_generate(
        request=GenerationRequest(
            patients=patients,
            checkin_days=checkin_days,
            seed=seed,
            adherence=1.0,
            end_date=timezone.localdate() - dt.timedelta(days=days_ago),
        ),
        started_by=Starter("os:tester"),
    )
    assert report.status == "succeeded"
    return SyntheticRun.objects.get(pk=report.run_id)
