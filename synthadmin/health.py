"""The health endpoint for load balancers and monitors: ``GET /healthz``.

Answered by a middleware placed first, before host validation and the HTTPS redirect, so a
probe by IP address, over plain HTTP, without a login, gets its answer. Cheap: one
connection and one transaction — a read of the small ``django_migrations`` table (the
migrations on disk are read once per process; "all applied" is then trusted for
``MIGRATIONS_RECHECK_SECONDS`` without a query) and of the worker registry. It shows no secret,
host name, version or error text: only states.

* 200 ``{"status": "ok", "database": "ok", "migrations": "ok", "workers": N}``: the web can
  serve. Workers are counted, not required: the admin works without them.
* ``?workers=1``: 503 as well when no worker is alive (for a monitor of background runs).
* 503 when the database is unreachable or migrations are not applied.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DatabaseError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

#: The path the middleware answers (under the deployment's sub-path, if any).
HEALTH_PATH = "/healthz"
#: How long a successful migrations check is trusted before it is made again.
MIGRATIONS_RECHECK_SECONDS = 60.0
#: The longest the health queries may run (a probe must not wait on a stuck database).
STATEMENT_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class Health:
    """What the endpoint says: each part's state, and whether that is healthy."""

    database: str
    migrations: str
    workers: int | None

    def healthy(self, *, need_workers: bool) -> bool:
        ok = self.database == "ok" and self.migrations == "ok"
        return ok and (not need_workers or bool(self.workers))

    def as_dict(self, *, need_workers: bool) -> dict[str, object]:
        status = "ok" if self.healthy(need_workers=need_workers) else "unavailable"
        return {
            "status": status,
            "database": self.database,
            "migrations": self.migrations,
            "workers": self.workers,
        }


class _MigrationsOnDisk:
    """The migrations this code ships (read once), and when all were last seen applied."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expected: set[tuple[str, str]] | None = None
        self._applied_at = 0.0

    def applied(self) -> bool:
        if time.monotonic() - self._applied_at < MIGRATIONS_RECHECK_SECONDS:
            return True
        with self._lock:
            if self._expected is None:
                loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
                self._expected = set(loader.graph.nodes)
            expected = self._expected
        applied = set(MigrationRecorder(connection).applied_migrations())
        if expected <= applied:
            self._applied_at = time.monotonic()
            return True
        return False


_migrations = _MigrationsOnDisk()


def health_check() -> Health:
    """Database reachable, migrations applied, workers alive (never raises for a lost database)."""
    from synthadmin.services.workers import workers_alive

    try:
        # One transaction, every statement bounded: a probe never waits on a stuck database.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
            migrations = "ok" if _migrations.applied() else "unapplied"
            workers = len(workers_alive())
    except DatabaseError as exc:
        logger.warning("health: the database is unreachable (%s)", type(exc).__name__)
        connection.close()
        return Health(database="unreachable", migrations="unknown", workers=None)
    return Health(database="ok", migrations=migrations, workers=workers)


class HealthMiddleware:
    """Answers ``GET``/``HEAD /healthz`` itself; every other request goes on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info != HEALTH_PATH or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        need_workers = request.GET.get("workers", "") in ("1", "true", "yes")
        health = health_check()
        response = JsonResponse(
            health.as_dict(need_workers=need_workers),
            status=200 if health.healthy(need_workers=need_workers) else 503,
        )
        response["Cache-Control"] = "no-store"
        return response


__all__ = ["HEALTH_PATH", "Health", "HealthMiddleware", "health_check"]
