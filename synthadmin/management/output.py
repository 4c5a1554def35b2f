"""Terminal output shared by synthadmin's commands: progress bars and summary tables (rich)."""

from __future__ import annotations

import io
import sys
import uuid
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from synthadmin.redaction import redact


class RichProgress:
    """A progress bar per phase, drawn on stderr (stdout stays for the report).

    A phase's total may be an expectation (the check-ins of a run: days x adherence per
    patient): past it, the total grows with the count; ``settle`` makes it the final count.
    """

    def __init__(self, stream: TextIO | None = None, *, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<11}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),  # for the phases whose total is known (auth users)
            console=console or Console(file=stream or sys.stderr),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def run_started(self, run_id: uuid.UUID) -> None:
        pass  # a bar per phase; the run has none

    def phase(self, name: str, total: int | None) -> None:
        self._tasks[name] = self._progress.add_task(name, total=total, rate="")

    def advance(self, name: str, amount: int = 1) -> None:
        task = self._tasks[name]
        self._progress.advance(task, amount)
        state = self._progress.tasks[task]
        speed = state.speed
        grown = state.total is not None and state.completed > state.total
        self._progress.update(
            task, rate=f"{speed:,.0f}/s" if speed else "", total=state.completed if grown else state.total
        )

    def settle(self, name: str) -> None:
        """The phase is over: its total becomes what was done (an expected total was only that)."""
        if name in self._tasks:
            task = self._tasks[name]
            self._progress.update(task, total=self._progress.tasks[task].completed)


def progress_console() -> Console:
    """Where progress bars are drawn: stderr (tests swap in a terminal-like console)."""
    return Console(file=sys.stderr)


def progress_bars(*, verbosity: int, json: bool) -> RichProgress | None:
    """Bars for a person watching: on a terminal, not with ``-v 0`` or ``--json``; else None."""
    console = progress_console()
    if verbosity < 1 or json or not console.is_terminal:
        return None
    return RichProgress(console=console)


def render(renderable: object, *, width: int = 100) -> str:
    """Render a rich object to plain text, for ``self.stdout.write`` (which call_command captures)."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False, color_system=None).print(renderable)
    return buffer.getvalue().rstrip("\n")


def key_value_table(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table


def one_line(text: str) -> str:
    """The first line of ``text``, secrets redacted: what a command shows of an error.

    psycopg puts the SQL and a caret under an error's first line (``LINE 1: ...``); that, and
    any traceback, is detail for ``-v 2``.
    """
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return redact(lines[0]) if lines else ""
