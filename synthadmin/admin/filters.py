"""The admin's list filters: test patient or not, one therapist's patients, the users of one run, a
run's status, and a check-in's ground-truth state."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import QuerySet
from django.http import HttpRequest

from synthadmin.models import LIVE_STATES, CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.mood_chart import STATE_LABELS
from synthadmin.selectors import (
    patients_of,
    profile_is_synthetic,
    profile_synthetic_q,
    therapists_matching,
    user_may_view_real_patients,
)
from synthadmin.services.figures import patterns_text, run_figures
from synthadmin.services.patient_truth import checkin_day_in_state
from synthadmin.target import target_get
from synthadmin.text import plural


class TestPatientFilter(admin.SimpleListFilter):
    """Yes = synthetic, No = real (``is_test_patient`` false or NULL), as ``synthadmin.selectors``
    decides. "No" is offered only to staff who may see real patients: for the others the list
    holds synthetic users only (``admin.privacy``), and "No" asked for in the URL is empty."""

    title = "Test patient"
    parameter_name = "test_patient"
    #: The path from the listed model to its profile (``"user__"`` for check-ins).
    field_prefix = ""

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        if not user_may_view_real_patients(request.user):
            return [("yes", "Yes")]  # "No" would be the real patients
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        synthetic = profile_synthetic_q(via=self.field_prefix)
        if self.value() == "yes":
            return queryset.filter(synthetic)
        if self.value() == "no":
            return queryset.exclude(synthetic)
        return queryset


class PatientTestFlagFilter(TestPatientFilter):
    """Check-ins of test patients, or of real ones."""

    field_prefix = "user__"


class TherapistFilter(admin.SimpleListFilter):
    """The patients of one therapist, found by a search box (an e-mail or part of it, a name
    without its accents, an id), never a list of every therapist: a search that names several
    shows them (at most ``SHOWN``) and lists the patients of all of them until one is chosen."""

    title = "Therapist"
    parameter_name = "therapist"
    template = "admin/synthadmin/therapist_filter.html"
    SHOWN = 10

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        value = str(self.value() or "")
        self.matches = therapists_matching(value, limit=self.SHOWN) if value else []
        if not user_may_view_real_patients(request.user):  # real therapists: theirs to see only
            self.matches = [t for t in self.matches if profile_is_synthetic(t)]
        return [(str(t.pk), t.email or str(t.pk)) for t in self.matches]

    def has_output(self) -> bool:
        return True  # the search box, even before any therapist is named

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:  # type: ignore[override]  # a search box first
        value = str(self.value() or "")
        kept = {k: v for k, v in changelist.params.items() if k != self.parameter_name}
        yield {
            "search": True,
            "query_string": changelist.get_query_string(),  # where the box is: this very list
            "value": value,
            "kept": sorted(kept.items()),
            "none_found": bool(value) and not self.lookup_choices,
        }
        yield {
            "selected": not value,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        return queryset.filter(patients_of(target_get(), [t.pk for t in self.matches]))


class RunFilter(admin.SimpleListFilter):
    """Users of one run (its ledger entries, or the patients an "Add check-in days" run extended).

    Offers the most recent runs not purged; any run id works in the URL (``?run=<id>``), which is where
    Generate sends staff afterwards. ``user_field`` is the path to the user id being filtered.
    """

    title = "Run"
    parameter_name = "run"
    user_field = "id"
    RECENT = 12

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        # Purged runs have no users left to filter by: they leave the choices (a purged run's
        # id in the URL still works, and is shown then).
        runs = list(
            SyntheticRun.objects.filter(purged_at__isnull=True).order_by("-started_at")[: self.RECENT]
        )
        chosen = self._run_id()
        if chosen is not None and all(r.pk != chosen for r in runs):
            runs += list(SyntheticRun.objects.filter(pk=chosen))
        #: The chosen run's kind (Django asks for the lookups first): which table names its users.
        self.chosen_kind = next((r.kind for r in runs if r.pk == chosen), None)
        return [(str(r.pk), run_label(r)) for r in runs]

    def _run_id(self) -> uuid.UUID | None:
        if not self.value():
            return None
        try:
            return uuid.UUID(str(self.value()))
        except ValueError:
            raise IncorrectLookupParameters(f"run: not a run id: {self.value()!r}") from None

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        run_id = self._run_id()
        if run_id is None:
            return queryset
        # A generate run's users are its ledger entries; an extend run's, the patients it added
        # days to. One indexed table, not a UNION of both: PostgreSQL can then probe it for each
        # row in date order (a run of thousands of patients) or read the run's few users first.
        users: QuerySet[Any, Any]
        if getattr(self, "chosen_kind", None) == SyntheticRun.Kind.EXTEND:
            users = CheckinAddition.objects.filter(run_id=run_id)
        else:
            users = SyntheticUser.objects.filter(run_id=run_id, state__in=LIVE_STATES)
        return queryset.filter(**{f"{self.user_field}__in": users.order_by().values("user_id")})


class CheckinRunFilter(RunFilter):
    """Check-ins of the patients of one run."""

    user_field = "user_id"


def run_label(run: SyntheticRun) -> str:
    """A run as a filter choice, with its patients per pattern (``figures.run_figures``, as the
    run page and ``list_runs``, from the run's row alone: the list's statements stay fixed):
    ``3f2a1b4c · 30 Nov 2026 · 12 patients: stable 6 · cycling 6``; a run that made fewer than
    it was asked says so (``7 of 8 patients asked: stable 4 · cycling 4``)."""
    figures = run_figures(run, read_ledger=False)
    asked = sum(figures.patterns_asked.values())
    if run.kind == SyntheticRun.Kind.EXTEND:
        what = f"{plural(figures.patients, 'patient')} extended"
    elif figures.patterns_created or figures.patients_created == asked:
        what = plural(figures.patients_created, "patient")
    else:
        what = f"{figures.patients_created:,} of {plural(asked, 'patient')} asked"
    by_pattern = figures.patterns_created or figures.patterns_asked
    patterns = f": {patterns_text(by_pattern)}" if by_pattern else ""
    return f"{str(run.pk)[:8]} · {run.started_at:%d %b %Y} · {what}{patterns}"


class RunStatusFilter(admin.SimpleListFilter):
    """The status the list shows: a purged run is "Purged" (whatever it ended as), the others
    their stored status."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [*SyntheticRun.Status.choices, ("purged", "Purged")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "purged":
            return queryset.filter(purged_at__isnull=False)
        if value in SyntheticRun.Status.values:
            return queryset.filter(status=value, purged_at__isnull=True)
        return queryset


class StateFilter(admin.SimpleListFilter):
    """The ground-truth mood state of the check-in's day (synthetic patients whose truth is
    stored), through the intervals' indexes (``patient_truth.checkin_day_in_state``)."""

    title = "Ground-truth state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        return list(STATE_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in STATE_LABELS:
            return queryset.filter(checkin_day_in_state(str(self.value())))
        return queryset
