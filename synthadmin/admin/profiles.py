"""The profiles list (who is a test patient, from which run, with how many check-ins) and the
profile page, which for a patient tells the story of the history (``patient_story_get``)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from checkins.models import CheckIn
from profiles.models import AuthUser, Profile
from synthadmin.admin.actions import (
    ProfileActionsAdmin,
    add_checkin_days,
    delete_synthetic_users,
    extend_to_today,
)
from synthadmin.admin.exports import ExportActionsAdmin, export_patients_checkins
from synthadmin.admin.filters import RunFilter, TestPatientFilter, TherapistFilter
from synthadmin.admin.generate import GeneratePageAdmin
from synthadmin.admin.helpers import ReadOnlyAdminMixin, admin_url, run_link
from synthadmin.admin.paging import BoundedListAdmin, list_count
from synthadmin.admin.privacy import RealPatientsPrivateAdmin
from synthadmin.models import LIVE_STATES, SyntheticRun, SyntheticUser
from synthadmin.mood_chart import BAND_COLOURS, DASHES, SERIES, STATE_LABELS, mood_chart_css
from synthadmin.selectors import (
    patients_of,
    profile_is_synthetic,
    profiles_visible_q,
    therapist_email,
    therapist_id,
    user_ids_named,
)
from synthadmin.services.patient_story import patient_story_get
from synthadmin.target import target_get


def _breakable(email: str) -> str:
    """An e-mail that may wrap after its dots and before its "@" (generated ones are long and
    have no spaces), escaped."""
    parts = re.split(r"(?<=\.)|(?=@)", email)
    return format_html_join(mark_safe("<wbr>"), "{}", ((part,) for part in parts if part))


class ProfileAdmin(
    RealPatientsPrivateAdmin[Profile],
    GeneratePageAdmin,
    ProfileActionsAdmin,
    ExportActionsAdmin,
    ReadOnlyAdminMixin,
    BoundedListAdmin[Profile],
):
    change_list_template = "admin/profiles/profile/change_list.html"
    change_form_template = "admin/profiles/profile/change_form.html"
    actions = [delete_synthetic_users, add_checkin_days, extend_to_today, export_patients_checkins]
    list_display = (
        "email_breakable",
        "name",
        "role",
        "test_patient",
        "pattern",
        "run",
        "therapist_email",
        "checkin_count",
        "last_checkin",
        "created",
    )
    list_filter = (TestPatientFilter, "role", TherapistFilter, RunFilter)
    #: Plus the displayed name (``selectors.user_ids_named``, accents and case aside) and the id.
    search_fields = ("email", "username")
    search_help_text = "E-mail, username, name (accents and case aside) or id."
    #: Patients a therapist's page lists before "all N of them".
    CASELOAD_SHOWN = 50
    list_per_page = 50
    list_display_links = ("email_breakable",)
    fields = (
        "id",
        "email",
        "name",
        "username",
        "role",
        "therapist_email",
        "is_test_patient",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("therapist_email", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Profile]:
        # One query for the page: every column is a correlated subquery on an indexed key,
        # which PostgreSQL evaluates for the page's rows only (after the sort and LIMIT), the
        # therapist through whichever link this database has (synthadmin.selectors). The
        # check-in count reads each shown patient's entries of the (user_id, checkin_date)
        # index; it is not sortable, which would count every check-in of every profile.
        checkins = CheckIn.objects.filter(user_id=OuterRef("pk")).order_by()
        entry = SyntheticUser.objects.filter(user_id=OuterRef("pk"), state__in=LIVE_STATES).order_by("-id")
        queryset = (
            super()
            .get_queryset(request)
            .annotate(
                _name=Subquery(
                    AuthUser.objects.filter(id=OuterRef("pk")).values(n=KT("raw_user_meta_data__name"))[:1]
                ),
                _checkin_count=Coalesce(
                    Subquery(checkins.values("user_id").annotate(n=Count("*")).values("n")[:1]),
                    Value(0),
                    output_field=IntegerField(),
                ),
                _last_checkin=Subquery(checkins.order_by("-checkin_date").values("checkin_date")[:1]),
                _run_id=Subquery(entry.values("run_id")[:1]),
                _pattern=Subquery(
                    entry.values(
                        p=Coalesce(
                            KT("ground_truth__pattern"),
                            Subquery(
                                SyntheticRun.objects.filter(pk=OuterRef("run_id")).values(
                                    x=KT("parameters__pattern")
                                )[:1]
                            ),
                        )
                    )[:1]
                ),
            )
        )
        target = target_get()
        therapist, therapist_pk = therapist_email(target), therapist_id(target)
        if therapist is None or therapist_pk is None:
            return queryset
        return queryset.annotate(_therapist_email=therapist, _therapist_id=therapist_pk)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Profile], search_term: str
    ) -> tuple[QuerySet[Profile], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        named = user_ids_named(search_term)
        if named is not None:
            results = results | queryset.filter(id__in=named)
        try:
            profile_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(id=profile_id), may_have_duplicates

    @admin.display(description="Test patient", boolean=True, ordering="is_test_patient")
    def test_patient(self, obj: Profile) -> bool:
        return profile_is_synthetic(obj)

    @admin.display(description="Name", ordering="_name")
    def name(self, obj: Profile) -> str:
        return str(getattr(obj, "_name", None) or "—")

    @admin.display(description="Pattern", ordering="_pattern")
    def pattern(self, obj: Profile) -> str:
        if obj.role == "therapist":  # a therapist has no history, so no mood pattern
            return "—"
        return str(getattr(obj, "_pattern", None) or "—")

    @admin.display(description="Run", ordering="_run_id")
    def run(self, obj: Profile) -> str:
        run_id = getattr(obj, "_run_id", None)
        return run_link(self.admin_site, run_id) if run_id else "—"

    @admin.display(description="Email", ordering="email")
    def email_breakable(self, obj: Profile) -> str:
        return _breakable(obj.email) if obj.email else str(obj.pk)

    @admin.display(description="Therapist")
    def therapist_email(self, obj: Profile) -> str:
        """The therapist's e-mail (wrapping in a list's narrow column), a link to their page."""
        return self._therapist_link(obj, breakable=True)

    def _therapist_link(self, obj: Profile, *, breakable: bool) -> str:
        email, pk = getattr(obj, "_therapist_email", None), getattr(obj, "_therapist_id", None)
        if not email or not pk:
            return "—"
        url = admin_url(self.admin_site, Profile, "change", pk)
        return format_html(
            '<a href="{}" class="therapist-link">{}</a>', url, _breakable(email) if breakable else email
        )

    @admin.display(description="Check-ins")
    def checkin_count(self, obj: Profile) -> int:
        return int(getattr(obj, "_checkin_count", 0))

    @admin.display(description="Last check-in", ordering="_last_checkin")
    def last_checkin(self, obj: Profile) -> str:
        last = getattr(obj, "_last_checkin", None)
        return str(last.isoformat()) if last else "—"

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Profile) -> str:
        return f"{obj.created_at:%Y-%m-%d}"

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Profile | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.role == Profile.Role.PATIENT:
            story = patient_story_get(profile_id=obj.pk)
            context.update(
                {
                    "story": story,
                    "story_chart": mark_safe(story.chart.svg) if story.chart else "",  # noqa: S308 - numbers, dates, escaped text (synthadmin.mood_chart)
                    "story_chart_narrow": mark_safe(story.chart.svg_narrow) if story.chart else "",  # noqa: S308 - as above
                    "story_chart_css": mark_safe(mood_chart_css()),  # noqa: S308 - constant colours
                    "story_series": [(a, legend, colour, DASHES[a]) for a, legend, colour, _ in SERIES],
                    "story_states": [(s, STATE_LABELS[s], BAND_COLOURS[s]) for s in BAND_COLOURS]
                    if story.truth is not None
                    else [],
                    "story_latest": [(row, STATE_LABELS.get(row.state or "", "—")) for row in story.latest],
                    "story_therapist": self._therapist_link(obj, breakable=False),
                    "story_can_view_checkins": request.user.has_perm("checkins.view_checkin"),
                }
            )
        if obj is not None and obj.role == Profile.Role.THERAPIST:
            context["caseload"] = self._caseload(request, obj)
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def _caseload(self, request: HttpRequest, therapist: Profile) -> dict[str, Any]:
        """A therapist's patients: the first ``CASELOAD_SHOWN`` by e-mail (links to their pages),
        how many in all (capped, ``paging.list_count``), and the list filtered to them; real
        patients only for staff who may see them (``admin.privacy``)."""
        patients = (
            Profile.objects.filter(patients_of(target_get(), [therapist.pk]))
            .filter(profiles_visible_q(user=request.user))
            .order_by("email")
        )
        shown = [
            (admin_url(self.admin_site, Profile, "change", p.pk), p.email or str(p.pk), p.is_test_patient)
            for p in patients[: self.CASELOAD_SHOWN]
        ]
        count = list_count(patients) if len(shown) == self.CASELOAD_SHOWN else None
        return {
            "shown": shown,
            "count": count.text() if count is not None else f"{len(shown):,}",
            "more": count is not None and count.counted > len(shown),
            "list_url": admin_url(self.admin_site, Profile, "changelist") + f"?therapist={therapist.pk}",
        }
