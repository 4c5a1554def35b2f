"""Date navigation (the changelist's ``date_hierarchy``) that reads a few index entries, not
every row of the period.

Django's ``date_hierarchy`` asks the list's queryset for ``Min``/``Max`` of the date and then
for its distinct years, months or days (``QuerySet.dates``): ``SELECT DISTINCT
date_trunc(...)`` over every row of the period — 3 million check-ins for "All dates". This
queryset answers the same questions by walking the date index: the first date, then the first
date at or after the start of the next year / month / day, and so on (a "loose index scan", a
recursive CTE). Each step is one ``ORDER BY date LIMIT 1`` over the list's own query (its
filters, search and the period chosen), so the walk costs one index probe per year, month or day
shown — when the list's rows are many. A walk under a filter that matches few rows would scan
the dates a long way between matches, so a list of at most ``DIRECT_ROWS`` rows is read
directly instead; both in one statement, which first reads at most ``DIRECT_ROWS + 1`` rows to
tell which. The links and levels are Django's own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypeVar

from django.db import connections
from django.db.models import F, Max, Min, Model, QuerySet

_M = TypeVar("_M", bound=Model)

Kind = Literal["year", "month", "day"]
_STEP = {"year": "1 year", "month": "1 month", "day": "1 day"}

#: A list of at most this many rows is read directly (its rows are few, wherever its dates lie);
#: a longer one is walked through the date index (its rows are many, so found early).
DIRECT_ROWS = 1_000

#: The list's rows up to one past ``DIRECT_ROWS`` (read once), and whether that is all of them.
#: Parameters: the list's query's, ``DIRECT_ROWS + 1``, ``DIRECT_ROWS``.
_FEW = (
    "few AS MATERIALIZED (SELECT x.d FROM ({inner}) x(d) WHERE x.d IS NOT NULL LIMIT %s), "
    "small AS MATERIALIZED (SELECT count(*) <= %s AS yes FROM few)"
)


class DateNavigationQuerySet(QuerySet[_M]):
    """A queryset whose ``dates()`` and ``Min``/``Max`` of a plain field walk an index instead of
    scanning. Same answers as ``QuerySet``'s; ``dates()`` returns a list (nothing chains on it in
    the admin)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The first date of a field, once ``aggregate`` found it: the walk starts there instead
        #: of finding it again (Django asks for Min/Max, then for the dates, of the same
        #: queryset). Not copied to clones, whose filters differ.
        self._first: dict[str, dt.date | None] = {}

    @classmethod
    def of(cls, queryset: QuerySet[_M]) -> DateNavigationQuerySet[_M]:
        """``queryset`` (its filters, annotations, ordering) as a ``DateNavigationQuerySet``."""
        return cls(model=queryset.model, query=queryset.query.chain(), using=queryset.db)

    def dates(self, field_name: str, kind: str, order: str = "ASC") -> list[dt.date]:  # type: ignore[override]
        if kind not in _STEP:
            raise ValueError(f"'kind' must be one of {', '.join(_STEP)}, not {kind!r}")
        if field_name in self._first and self._first[field_name] is None:
            return []  # no row at all
        inner, params = self._column_sql(field_name)
        start_params: list[Any] = [self._first[field_name]] if field_name in self._first else list(params)
        start = (
            "(SELECT %s::date WHERE NOT (SELECT yes FROM small))"
            if field_name in self._first
            else f"(SELECT x.d FROM ({inner}) x(d) WHERE x.d IS NOT NULL "  # noqa: S608 - compiled by the ORM
            "AND NOT (SELECT yes FROM small) ORDER BY x.d LIMIT 1)"
        )
        query = (
            f"WITH RECURSIVE {_FEW.format(inner=inner)}, "  # noqa: S608 - compiled by the ORM; kind checked above
            f"walk(d) AS ({start} "
            f"UNION ALL SELECT (SELECT x.d FROM ({inner}) x(d) "
            "WHERE x.d >= (date_trunc(%s, w.d::timestamp) + %s::interval)::date ORDER BY x.d LIMIT 1) "
            "FROM walk w WHERE w.d IS NOT NULL) "
            "SELECT date_trunc(%s, d::timestamp)::date FROM few WHERE (SELECT yes FROM small) "
            "UNION SELECT date_trunc(%s, d::timestamp)::date FROM walk WHERE d IS NOT NULL ORDER BY 1"
        )
        values = [*params, DIRECT_ROWS + 1, DIRECT_ROWS, *start_params, *params]
        with connections[self.db].cursor() as cursor:
            cursor.execute(query, [*values, kind, _STEP[kind], kind, kind])
            found = [row[0] for row in cursor.fetchall()]
        return found[::-1] if order == "DESC" else found

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """``Min``/``Max`` of one plain field: over the rows themselves when the list has at most
        ``DIRECT_ROWS``, else as ``ORDER BY field LIMIT 1`` (an index's first or last entry, also
        with joins and filters, where PostgreSQL's own min/max shortcut stops); anything else
        as ``QuerySet.aggregate``."""
        edges = {name: _edge_of(agg) for name, agg in kwargs.items()}
        fields = {edge[0] for edge in edges.values() if edge is not None}
        if args or not edges or None in edges.values() or len(fields) != 1:
            return super().aggregate(*args, **kwargs)
        field_name = fields.pop()
        inner, params = self._column_sql(field_name)
        selects: list[str] = []
        values: list[Any] = [*params, DIRECT_ROWS + 1, DIRECT_ROWS]
        for _, descending in edges.values():  # type: ignore[misc]  # None excluded above
            function, direction = ("max", "DESC") if descending else ("min", "ASC")
            selects.append(
                f"CASE WHEN (SELECT yes FROM small) THEN (SELECT {function}(d) FROM few) "  # noqa: S608 - compiled by the ORM
                f"ELSE (SELECT x.d FROM ({inner}) x(d) WHERE x.d IS NOT NULL "
                f"ORDER BY x.d {direction} LIMIT 1) END"
            )
            values.extend(params)
        with connections[self.db].cursor() as cursor:
            cursor.execute(f"WITH {_FEW.format(inner=inner)} SELECT {', '.join(selects)}", values)
            row = cursor.fetchone()
        found = dict(zip(edges, row, strict=True))
        firsts = [found[name] for name, edge in edges.items() if edge is not None and not edge[1]]
        if firsts:
            self._first[field_name] = firsts[0]
        return found

    def _column_sql(self, field_name: str) -> tuple[str, tuple[Any, ...]]:
        """This queryset's filters selecting ``field_name`` only: no ordering, no DISTINCT (which
        would stop PostgreSQL from pushing the walk's bound into the query)."""
        column = self.order_by().values_list(field_name, flat=True)
        column.query.distinct = False
        column.query.distinct_fields = ()
        sql, params = column.query.sql_with_params()
        return sql, tuple(params)


def _edge_of(aggregate: Any) -> tuple[str, bool] | None:
    """``(field name, descending)`` for ``Min("field")`` / ``Max("field")``; None otherwise."""
    if not isinstance(aggregate, Min | Max) or aggregate.filter is not None:
        return None
    source = aggregate.get_source_expressions()[0]
    if not isinstance(source, F):
        return None
    return source.name, isinstance(aggregate, Max)
