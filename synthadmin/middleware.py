"""The web process as a guest in the app's database: every query it sends runs under a time
limit and without parallel workers, and a page that hits the limit says so in the admin's frame.

**The limit** is ``SYNTHADMIN_WEB_STATEMENT_TIMEOUT`` (seconds, default 10; 0: none), applied
as the session's ``statement_timeout``; ``max_parallel_workers_per_gather`` is 0 as well, so
one click never takes several of the database's processes (an admin query is a page of an
index, not a scan). Web requests only — management commands and task workers keep their own
session settings:

* in a **web process** (``synthadmin.wsgi`` / ``synthadmin.asgi`` call ``web_process_mark``:
  gunicorn, uvicorn, ``runserver``), every connection the process opens gets the settings once,
  when it opens — any thread, so a small run started inline by a request is bounded too;
* anywhere else a request is served (the test client, a live test server),
  ``WebSessionMiddleware`` sets them on the request's connection for the request, in the same
  round trip as the request's first query (a request that reads nothing sends nothing), and puts
  back what was there afterwards.

**Hitting it**: PostgreSQL cancels the statement with SQLSTATE 57014 (``query_canceled``); the
middleware turns that error — told by its SQLSTATE, never its message — into the admin's page
"This page took longer than N s…", with links back, instead of a 500; the log says which path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.sites import AdminSite, all_sites
from django.core.signals import request_finished
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme

from synthadmin.db.budget import connection_release_if_wanted
from synthadmin.db.errors import sqlstate
from synthadmin.db.session import process_role_set

logger = logging.getLogger("synthadmin.web")

#: PostgreSQL's SQLSTATE for a statement cancelled (``statement_timeout``, or by hand).
QUERY_CANCELED = "57014"

TEMPLATE = "admin/synthadmin/query_cancelled.html"

_web_process = False


def web_statement_timeout_ms() -> int:
    """``SYNTHADMIN_WEB_STATEMENT_TIMEOUT`` in milliseconds (0: no limit)."""
    seconds = float(settings.SYNTHADMIN_WEB_STATEMENT_TIMEOUT)
    return max(round(seconds * 1000), 1) if seconds > 0 else 0


def web_session_settings() -> dict[str, str]:
    """What a web request's session is set to: the time limit, and no parallel workers."""
    return {"statement_timeout": str(web_statement_timeout_ms()), "max_parallel_workers_per_gather": "0"}


def web_process_mark() -> None:
    """This process serves web requests: every database connection it opens from now on gets
    ``web_session_settings`` (one statement per connection, when it opens), is named
    ``synthadmin web``, and is kept between requests (``SYNTHADMIN_WEB_CONN_MAX_AGE``, checked
    before reuse) while the process's connection budget has room for a request that comes in."""
    global _web_process
    _web_process = True
    process_role_set("web")
    connections.settings[DEFAULT_DB_ALIAS].update(
        CONN_MAX_AGE=settings.SYNTHADMIN_WEB_CONN_MAX_AGE, CONN_HEALTH_CHECKS=True
    )
    connection_created.connect(_connection_opened, dispatch_uid="synthadmin.web_session")
    request_finished.connect(_request_finished, dispatch_uid="synthadmin.web_connection_budget")


def _request_finished(sender: Any, **kwargs: Any) -> None:
    # After Django's own close_old_connections: a thread keeps its connection for the next
    # request only while another thread waiting for one, or coming in, would still find one.
    connection_release_if_wanted(crowded=True)


def _connection_opened(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if _web_process:
        _session_set(connection, web_session_settings())


def _session_set(connection: BaseDatabaseWrapper, values: Mapping[str, str | None]) -> None:
    """Set each setting for the session (None: back to its default, ``reset_val``), in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config(t.n, coalesce(t.v, (SELECT s.reset_val FROM pg_settings s "
            "WHERE s.name = t.n)), false) FROM unnest(%s::text[], %s::text[]) AS t(n, v)",
            [list(values), list(values.values())],
        )


def _session_swap(cursor: Any) -> dict[str, str | None]:
    """``web_session_settings`` through a driver cursor, in one statement; the values before."""
    names = web_session_settings()
    # The old values first (a materialised CTE is read before the outer row is projected).
    cursor.execute(
        "WITH old AS MATERIALIZED (SELECT "  # noqa: S608 - placeholders only
        + ", ".join(f"current_setting(%s) AS o{i}" for i in range(len(names)))
        + ") SELECT "
        + ", ".join(f"o{i}, set_config(%s, %s, false)" for i in range(len(names)))
        + " FROM old",
        [*names, *(value for pair in names.items() for value in pair)],
    )
    row = cursor.fetchone()
    return dict(zip(names, row[::2], strict=True))


@contextmanager
def web_session(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """``web_session_settings`` on ``connection`` for the block, sent just before the block's
    first query (a block that queries nothing sends nothing), then what was there before."""
    before: dict[str, str | None] | None = None

    def first_query_sets(execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any) -> Any:
        nonlocal before
        if before is None:
            before = _session_swap(context["cursor"].cursor)  # the driver's cursor: no wrappers
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(first_query_sets):
            yield
    finally:
        if before is not None and connection.connection is not None:
            _restore(connection, before)


def _restore(connection: BaseDatabaseWrapper, before: dict[str, str | None]) -> None:
    try:
        _session_set(connection, before)
    except DatabaseError:
        # A transaction the request left aborted: its rollback restores the settings anyway.
        logger.debug("web session settings not restored (the transaction is aborted)")


class WebSessionMiddleware:
    """Bounds every query of a request (``web_session``) and answers a cancelled one with the
    admin's page instead of a 500 (``process_exception``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _web_process:  # every connection of this process already carries the settings
            return self.get_response(request)
        with web_session(connections[DEFAULT_DB_ALIAS]):
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if sqlstate(exception) != QUERY_CANCELED:
            return None
        seconds = web_statement_timeout_ms() / 1000
        logger.warning(
            "%s %s: a query was stopped after %g s (SYNTHADMIN_WEB_STATEMENT_TIMEOUT)",
            request.method,
            request.path,
            seconds,
        )
        return query_cancelled_page(request, seconds)


def query_cancelled_page(request: HttpRequest, seconds: float) -> HttpResponse:
    """The admin's page for a request whose query the database stopped: what happened, what to do."""
    site = _site_of(request)
    request.current_app = site.name
    referer = request.META.get("HTTP_REFERER", "")
    safe_referer = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    context = {
        **_frame(site, request),
        "title": "This page took too long",
        "seconds": f"{seconds:g}",
        "changed_nothing": request.method in ("GET", "HEAD"),
        "back": referer if referer and safe_referer else None,
        "unfiltered": request.path if request.GET else None,
    }
    return TemplateResponse(request, TEMPLATE, context)


def _frame(site: AdminSite, request: HttpRequest) -> dict[str, Any]:
    """The admin's frame (header, user links, app list); without the app list if even its few
    small queries cannot run now (the limit hit them too, or the transaction is aborted)."""
    try:
        return site.each_context(request)
    except DatabaseError:
        return {
            "site_title": site.site_title,
            "site_header": site.site_header,
            "site_url": site.site_url,
            "has_permission": True,
            "available_apps": [],
            "is_popup": False,
            "is_nav_sidebar_enabled": False,
        }


def _site_of(request: HttpRequest) -> AdminSite:
    """The admin site that served ``request`` (a second site keeps its own frame and links)."""
    match = getattr(request, "resolver_match", None)
    namespace = match.namespace if match is not None else None
    return next((site for site in all_sites if site.name == namespace), admin.site)
