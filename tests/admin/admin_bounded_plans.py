"""What the bounded-admin tests ask of a page: its queries, and how PostgreSQL would run them.

``page_visit`` fetches a page with a bound on its queries (``django_assert_max_num_queries``)
and returns the SQL it sent; ``seq_scans`` explains each statement that reads ``check_ins`` or
``profiles`` — ``EXPLAIN`` with sequential scans disabled (and, as in a web request, no parallel
workers) — and names every ``Seq Scan`` left on those tables (one left means no index can serve
that statement, whatever the table's size) and every full scan of a ``check_ins`` index that no
LIMIT stops (with sequential scans off, PostgreSQL reads a whole index instead: the same work).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.db import connection
from django.test import Client

#: The app's big tables: no statement of a page may need a sequential scan of either.
BIG_TABLES = ("check_ins", "profiles")


def page_visit(client: Client, url: str, max_queries: int, assert_max: Callable[..., Any]) -> list[str]:
    """GET ``url`` (200, at most ``max_queries`` statements); the statements it sent."""
    with assert_max(max_queries) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return [query["sql"] for query in captured.captured_queries]


#: Nodes that read all of their input before returning a row: a LIMIT above them stops nothing below.
BLOCKING = {"Sort", "Hash", "Aggregate", "SetOp", "WindowAgg", "Materialize", "Unique", "Gather Merge"}
#: (A bitmap scan always has an index condition, in its Bitmap Index Scan.)
SCANS = {"Seq Scan", "Index Scan", "Index Only Scan"}


def _plan_nodes(node: dict[str, Any], limited: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every node, with whether a LIMIT above it stops it early (no blocking node in between)."""
    yield node, limited
    below = (limited or node["Node Type"] == "Limit") and node["Node Type"] not in BLOCKING
    for child in node.get("Plans", []):
        yield from _plan_nodes(child, below)


def _unbounded(node: dict[str, Any], limited: bool, tables: tuple[str, ...]) -> bool:
    """A scan that may read a whole table: a Seq Scan of one of ``tables``, or a scan of
    ``check_ins``'s indexes without a condition other than ``IS NOT NULL`` that no LIMIT stops.
    (A full index scan of ``profiles`` is what the planner rightly picks when a filter keeps most
    profiles; the profiles are the users, not the check-ins.)"""
    relation = node.get("Relation Name")
    if node["Node Type"] not in SCANS or relation not in tables:
        return False
    if node["Node Type"] == "Seq Scan":
        return True
    if relation != "check_ins":
        return False
    condition = node.get("Index Cond", "")
    return not limited and (not condition or condition.endswith("IS NOT NULL)"))


def seq_scans(statements: list[str], tables: tuple[str, ...] = BIG_TABLES) -> list[str]:
    """Each scan that may read a whole table (``_unbounded``) in the plans of ``statements``
    with ``enable_seqscan`` off: a ``Seq Scan`` of one of ``tables`` (no index can serve it), or a
    full scan of a ``check_ins`` index no LIMIT stops; as ``"<node> on <table>: <statement>"``."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off; SET max_parallel_workers_per_gather = 0")
        try:
            for sql in statements:
                if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                if not any(f'"{table}"' in sql for table in tables):
                    continue
                cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
                raw = cursor.fetchone()[0]
                plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
                found += [
                    f"{node['Node Type']} on {node['Relation Name']}: {sql[:300]}"
                    for node, limited in _plan_nodes(plan)
                    if _unbounded(node, limited, tables)
                ]
        finally:
            cursor.execute("RESET enable_seqscan; RESET max_parallel_workers_per_gather")
    return found


def filter_links(client: Client, url: str) -> list[str]:
    """Every link of every list filter of the changelist at ``url`` (as the sidebar offers them)."""
    cl = client.get(url).context["cl"]
    return [url + choice["query_string"] for spec in cl.filter_specs for choice in spec.choices(cl)]


def date_links(client: Client, url: str) -> list[str]:
    """The date navigation from "All dates" down to a day: the first link at each level."""
    links = []
    current = url
    for _ in range(3):
        hierarchy = date_hierarchy(client.get(current).context["cl"])
        assert hierarchy is not None
        choices = hierarchy["choices"]
        if not choices or "link" not in choices[0]:
            break
        current = url + choices[0]["link"]
        links.append(current)
    return links
