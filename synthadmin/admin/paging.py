"""Lists that cost what they show: counts that stop, pages that stop, no facet counts.

Django's changelist needs a count for its pages, and counts the whole filtered list for it —
on a list of millions of check-ins, a full scan on every click. ``BoundedPaginator`` counts at
most ``COUNT_LIMIT + 1`` rows (one ``LIMIT``ed count, which reads no further), so:

* a list of at most ``COUNT_LIMIT`` rows shows its exact count, as before;
* a longer list says "more than 10,000", and its pages stop at the first ``COUNT_LIMIT`` rows
  (no ``OFFSET`` deeper than that: the last page link is always cheap), while filters, date
  navigation and search reach every row;
* an unfiltered list longer than that says "about N", N the planner's own row estimate of the
  table (``pg_class.reltuples``, kept by autovacuum/ANALYZE), read in the same statement.

Why not an estimate for filtered lists too: ``EXPLAIN``'s row estimates for joins and semi-joins
(a run's patients, a ground-truth state) are often off by an order of magnitude; a capped exact
count is honest and costs at most ``COUNT_LIMIT`` index entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.functional import cached_property

_M = TypeVar("_M", bound=Model)

#: Rows a list counts exactly, and how deep its pages go.
COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class ListCount:
    """How many rows a list has, as far as it was counted."""

    #: Rows counted: at most ``COUNT_LIMIT + 1`` (one more than the limit says "more than").
    counted: int
    #: The planner's estimate of the whole table, for an unfiltered list past the limit.
    estimate: int | None = None

    @property
    def exact(self) -> bool:
        return self.counted <= COUNT_LIMIT

    @property
    def pageable(self) -> int:
        """The rows the pages reach: all of them, or the first ``COUNT_LIMIT``."""
        return min(self.counted, COUNT_LIMIT)

    def text(self) -> str:
        """``1,234``, ``about 3,100,000`` or ``more than 10,000``."""
        if self.exact:
            return f"{self.counted:,}"
        if self.estimate is not None and self.estimate > COUNT_LIMIT:
            return f"about {_two_figures(self.estimate):,}"
        return f"more than {COUNT_LIMIT:,}"


def _two_figures(number: int) -> int:
    """``number`` rounded to two significant figures (an estimate claims no more)."""
    scale: int = 10 ** max(len(str(number)) - 2, 0)
    return round(number / scale) * scale


def list_count(queryset: QuerySet[Any]) -> ListCount:
    """Count ``queryset`` up to ``COUNT_LIMIT + 1`` rows, in one statement, with the table's
    row estimate when the queryset is unfiltered (reads at most ``COUNT_LIMIT + 1`` rows)."""
    query = queryset.query
    capped = queryset.order_by().values("pk")[: COUNT_LIMIT + 1]
    sql, params = capped.query.sql_with_params()
    connection = connections[queryset.db]
    unfiltered = not query.where and not query.distinct and query.combinator is None
    estimate = "NULL"
    if unfiltered:
        estimate = (
            "(SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END "
            "FROM pg_class c WHERE c.oid = to_regclass(%s))"
        )
        params = (*params, connection.ops.quote_name(queryset.model._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT count(*) FROM ({sql}) capped), {estimate}", params)  # noqa: S608 - compiled by the ORM
        counted, rows = cursor.fetchone()
    return ListCount(counted=int(counted), estimate=int(rows) if rows is not None else None)


class BoundedPaginator(Paginator[Any]):
    """Django's paginator over a ``list_count``: ``count`` is the rows the pages reach."""

    @cached_property
    def list_count(self) -> ListCount:
        return list_count(self.object_list)  # type: ignore[arg-type]  # the changelist's queryset

    @cached_property
    def count(self) -> int:
        return self.list_count.pageable


class BoundedChangeList(ChangeList):
    """Django's changelist with the count's words: ``result_count_text`` ("more than 10,000")
    and ``count_exact``, which the project's ``admin/pagination.html``, ``search_form.html`` and
    ``actions.html`` show in place of a bare number."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        counted = getattr(self.paginator, "list_count", None)
        self.count_exact = counted is None or counted.exact
        self.result_count_text = counted.text() if counted is not None else f"{self.result_count:,}"


class BoundedListAdmin(admin.ModelAdmin[_M]):
    """A list that never counts past ``COUNT_LIMIT`` nor counts facets: the base of every
    synthadmin list over a table that grows with the users or the check-ins."""

    paginator = BoundedPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return BoundedChangeList

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if (
            isinstance(response, TemplateResponse)
            and context
            and not getattr(context.get("cl"), "count_exact", True)
        ):
            # "All 10000 selected" would be false: Select all acts on every matching row.
            context["selection_note_all"] = "All matching selected"
        return response
