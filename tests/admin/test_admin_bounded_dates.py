"""Date navigation by walking the date index gives Django's own answers: the same first and last
dates and the same years, months and days, for the whole list and for each kind of filter —
many rows or few (read directly), or none."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Max, Min, Q, QuerySet

from checkins.models import CheckIn
from synthadmin.admin.date_navigation import DIRECT_ROWS, DateNavigationQuerySet
from synthadmin.services.patient_truth import checkin_day_in_state
from tests.admin.admin_bounded_population import Population

pytestmark = pytest.mark.django_db


def _lists(population: Population) -> dict[str, QuerySet[CheckIn]]:
    checkins = CheckIn.objects.all()
    return {
        "all": checkins,
        "one state": checkins.filter(checkin_day_in_state("manic")),
        "a run": checkins.filter(user_id__in=[population.patient(population.cycling_run)]),
        "real patients": checkins.exclude(user__is_test_patient=True),
        "one month": checkins.filter(
            checkin_date__gte=dt.date(2026, 3, 1), checkin_date__lt=dt.date(2026, 4, 1)
        ),
        "nothing": checkins.filter(Q(checkin_date__lt=dt.date(1990, 1, 1))),
        "searched": checkins.filter(user__email__icontains="a").distinct(),
    }


def test_first_last_and_every_level_as_django_finds_them(population: Population):
    sizes = {}
    for name, queryset in _lists(population).items():
        walked = DateNavigationQuerySet.of(queryset)
        sizes[name] = queryset.count()
        edges = walked.aggregate(first=Min("checkin_date"), last=Max("checkin_date"))
        assert edges == queryset.aggregate(first=Min("checkin_date"), last=Max("checkin_date")), name
        for kind in ("year", "month", "day"):
            assert walked.dates("checkin_date", kind) == list(queryset.dates("checkin_date", kind)), (
                name,
                kind,
            )
            fresh = DateNavigationQuerySet.of(queryset)  # without the first date found above
            assert fresh.dates("checkin_date", kind, "DESC") == list(
                queryset.dates("checkin_date", kind, "DESC")
            ), (name, kind)
    # Both ways were taken: lists longer than DIRECT_ROWS (walked) and shorter (read directly).
    assert max(sizes.values()) > DIRECT_ROWS >= min(size for size in sizes.values() if size) > 0
    assert sizes["nothing"] == 0


def test_other_aggregates_are_django_s(population: Population):
    walked = DateNavigationQuerySet.of(CheckIn.objects.all())
    assert walked.aggregate(Min("checkin_date")) == CheckIn.objects.aggregate(Min("checkin_date"))
    assert walked.aggregate(n=Max("created_at"), d=Min("checkin_date")) == CheckIn.objects.aggregate(
        n=Max("created_at"), d=Min("checkin_date")
    )
    with pytest.raises(ValueError, match="'kind' must be one of"):
        walked.dates("checkin_date", "week")
