"""Logging: one line per event on stderr, plain or JSON, with the run id on every run's lines.

stdout belongs to ``--json`` documents and exports; every log line goes to stderr.
``SYNTHADMIN_LOG_FORMAT=json`` writes one JSON object per line (``ts``, ``level``, ``logger``,
``message``, ``run_id`` when the line belongs to a run, ``exc`` with the traceback); the default,
``plain``, writes ``LEVEL logger: message [run <id>]`` with a traceback's line breaks escaped, so
that one event is still one line. Secrets are redacted from both (``redaction.RedactingFilter``).

The run id comes from a context variable: ``run_logged`` opens a run's scope around a service
that runs one (an inline run, a chunk, a purge) and ``run_log_bind`` names the run once it is
known (``ledger.run_start``). Threads started inside the scope with ``contextvars.copy_context``
(``services.threads.pool_run``) share it, so a retry logged by a pool thread carries the id too.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

#: The values ``SYNTHADMIN_LOG_FORMAT`` takes.
LOG_FORMATS = ("plain", "json")


@dataclass
class _RunScope:
    """The run a stretch of work belongs to; shared (mutable) by the threads it starts."""

    run_id: str | None = None


_scope: contextvars.ContextVar[_RunScope | None] = contextvars.ContextVar("synthadmin_run", default=None)


@contextlib.contextmanager
def run_log_scope(run_id: uuid.UUID | str | None = None) -> Iterator[None]:
    """Lines logged inside belong to ``run_id`` (or to the run ``run_log_bind`` names later)."""
    token = _scope.set(_RunScope(str(run_id) if run_id else None))
    try:
        yield
    finally:
        _scope.reset(token)


def run_log_bind(run_id: uuid.UUID | str) -> None:
    """Name the run of the current scope (no effect outside ``run_log_scope``)."""
    scope = _scope.get()
    if scope is not None:
        scope.run_id = str(run_id)


def run_log_id() -> str | None:
    """The run the current line belongs to, if any."""
    scope = _scope.get()
    return scope.run_id if scope is not None else None


def run_logged(
    run_of: Callable[..., uuid.UUID | str | None] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a service that runs one run: its lines (and its threads') carry the run id.

    ``run_of(*args, **kwargs)``, when given, names the run from the call's arguments (a purge of
    ``run=ID``); otherwise ``run_log_bind`` names it when the run is created.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with run_log_scope(run_of(*args, **kwargs) if run_of is not None else None):
                return function(*args, **kwargs)

        return wrapper

    return decorate


class RunIdFilter(logging.Filter):
    """Adds ``record.run_id`` (None outside a run) for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "run_id", None):
            record.run_id = run_log_id()
        return True


class NotSynthadminFilter(logging.Filter):
    """Lets through the records of every logger but synthadmin's (which has its own handler and
    still propagates, so that tools watching the root logger see its records too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "synthadmin" or record.name.startswith("synthadmin."))


def _one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


class PlainFormatter(logging.Formatter):
    """``LEVEL logger: message [run <id>]``, a traceback on the same line (breaks escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname} {record.name}: {record.getMessage()}"
        run_id = getattr(record, "run_id", None)
        if run_id:
            line += f" [run {run_id}]"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += " | " + record.exc_text
        return _one_line(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``run_id`` (only on a run's lines), ``exc`` (the traceback, when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        run_id = getattr(record, "run_id", None)
        if run_id:
            document["run_id"] = run_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            document["exc"] = record.exc_text
        return json.dumps(document, ensure_ascii=False, default=str)


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` dict: synthadmin at ``level``, everything else at WARNING, all to stderr in
    ``log_format`` (gunicorn's own loggers included: ``deploy/gunicorn.conf.py`` uses it)."""
    formatter = "json" if log_format == "json" else "plain"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            # Every line goes through the redaction of configured secrets, then gets its run id.
            "redact_secrets": {"()": "synthadmin.redaction.RedactingFilter"},
            "run_id": {"()": "synthadmin.logs.RunIdFilter"},
            "not_synthadmin": {"()": "synthadmin.logs.NotSynthadminFilter"},
        },
        "formatters": {
            "plain": {"()": "synthadmin.logs.PlainFormatter"},
            "json": {"()": "synthadmin.logs.JsonFormatter"},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["redact_secrets", "run_id"],
            },
            # Everyone else's lines (Django, the task workers, libraries) the same way.
            "stderr_others": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["not_synthadmin", "redact_secrets", "run_id"],
            },
        },
        "root": {"handlers": ["stderr_others"], "level": "WARNING"},
        "loggers": {
            "synthadmin": {"handlers": ["stderr"], "level": level},
            # Unhandled errors in views (the admin): logged with their traceback, secrets redacted.
            "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
            # Locked-out logins (django-axes) are worth a line each.
            "axes": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            # httpx logs every request URL at INFO; keep it quiet.
            "httpx": {"level": "WARNING"},
            # The WSGI server's own lines (started, worker booted, access log) in the same format.
            "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }


__all__ = [
    "LOG_FORMATS",
    "JsonFormatter",
    "NotSynthadminFilter",
    "PlainFormatter",
    "RunIdFilter",
    "logging_config",
    "run_log_bind",
    "run_log_id",
    "run_log_scope",
    "run_logged",
]
