"""Progress on a terminal: purge_synthetic draws a bar (users deleted / total, rate, ETA) and
generate_synthetic's check-ins bar has a total and an ETA — drawn on a terminal-like console."""

from __future__ import annotations

import io
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from rich.console import Console

from synthadmin.management import output
from tests.invariants import synthetic_counts


@pytest.fixture
def terminal(monkeypatch) -> io.StringIO:
    """What a person at a terminal would see on stderr (rich's own terminal rendering)."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=140, color_system=None)
    monkeypatch.setattr(output, "progress_console", lambda: console)
    return screen


def _plain(screen: io.StringIO) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())


def test_purge_draws_a_bar_with_total_rate_and_eta(real_population, terminal):
    out = StringIO()
    call_command(
        "generate_synthetic", "--patients", "12", "--checkins", "3", "--seed", "1", "--json", stdout=out
    )
    run = json.loads(out.getvalue())["run_id"]
    terminal.truncate(0)
    call_command("purge_synthetic", "--run", run, "--yes", stdout=StringIO(), stderr=StringIO())
    screen = _plain(terminal)
    assert "users" in screen and "12/12" in screen  # deleted of the total
    assert "eta" in screen and re.search(r"\d:\d\d:\d\d", screen)  # elapsed and remaining time
    assert synthetic_counts()["patients"] == 0


def test_purge_draws_nothing_off_a_terminal_or_with_json(real_population, monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(output, "progress_console", lambda: Console(file=screen))  # not a terminal
    out = StringIO()
    call_command("generate_synthetic", "--patients", "2", "--checkins", "3", "--json", stdout=out)
    call_command("purge_synthetic", "--all", "--yes", stdout=StringIO(), stderr=StringIO())
    assert screen.getvalue() == ""


def test_generate_check_ins_bar_has_a_total_and_eta(real_population, terminal):
    out = StringIO()
    call_command(
        "generate_synthetic",
        "--patients",
        "6",
        "--checkins",
        "40",
        "--seed",
        "5",
        stdout=out,
        stderr=StringIO(),
    )
    screen = _plain(terminal)
    checkins = synthetic_counts()["checkins"]
    lines = [line for line in screen.splitlines() if line.lstrip().startswith("check-ins")]
    assert lines, screen
    assert "/?" not in screen  # a total, never "152930/?"
    assert f"{checkins}/{checkins}" in lines[-1]  # settled on the real count at the end
    assert "auth users" in screen and "6/6" in screen and "eta" in lines[-1]
