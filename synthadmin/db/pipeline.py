"""Several statements in one round trip: psycopg 3's pipeline mode on Django's connection.

A service that needs several independent reads (or writes whose results it does not need
before sending the next) sends them together: ``statements_pipelined`` queues every statement,
then reads every answer — one round trip to the server instead of one per statement. Inside
``transaction.atomic()`` they run in the caller's transaction (psycopg sends the ``BEGIN`` in
the same pipeline); outside, they run as one implicit transaction, all or nothing.

Errors come out as Django's (``DatabaseError`` and its subclasses), as from a Django cursor; a
failed statement aborts the ones after it. COPY cannot run in a pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from psycopg import sql


@dataclass(frozen=True)
class Many:
    """The parameters of one statement run once per item (``executemany``), in the same round
    trip: for a statement whose parameter types only its place in the SQL says (a column of a
    user-defined type), where an ``unnest`` of arrays would need a cast."""

    params: Sequence[Sequence[Any]]


#: One statement: its SQL (text or composed with ``psycopg.sql``) and its parameters.
Statement = tuple[str | sql.Composable, Sequence[Any] | Mapping[str, Any] | Many | None]


@dataclass(frozen=True)
class Answer:
    """What one statement returned: its rows (none for a statement without a result) and the
    number of rows it touched (for ``Many``, in all)."""

    rows: list[tuple[Any, ...]]
    rowcount: int


def statements_pipelined(statements: Sequence[Statement], *, using: str = "default") -> list[Answer]:
    """Run ``statements`` in order on Django's connection ``using``, in one round trip; their
    answers, in the same order. Writes what the statements write; raises Django's
    ``DatabaseError`` (subclass) of the first that fails."""
    if not statements:
        return []
    wrapper = connections[using]
    wrapper.ensure_connection()
    raw = wrapper.connection
    cursors = []
    try:
        with wrapper.wrap_database_errors:
            with raw.pipeline():
                for query, params in statements:
                    cursor = raw.cursor()
                    cursors.append(cursor)
                    if isinstance(params, Many):
                        cursor.executemany(query, params.params)
                    else:
                        cursor.execute(query, params)
            return [
                Answer(
                    rows=cursor.fetchall() if cursor.description is not None else [], rowcount=cursor.rowcount
                )
                for cursor in cursors
            ]
    finally:
        for cursor in cursors:
            cursor.close()
