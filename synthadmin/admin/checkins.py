"""The check-ins list and page: read-only; each check-in as six labelled sections, titled
"patient — date"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from checkins.models import PAYLOAD_COLUMNS, CheckIn
from profiles.models import AuthUser, Profile
from synthadmin.admin.date_navigation import DateNavigationQuerySet
from synthadmin.admin.exports import ExportActionsAdmin, export_checkins
from synthadmin.admin.filters import CheckinRunFilter, PatientTestFlagFilter, StateFilter
from synthadmin.admin.helpers import ReadOnlyAdminMixin, admin_url
from synthadmin.admin.paging import BoundedListAdmin
from synthadmin.admin.privacy import RealPatientsPrivateAdmin
from synthadmin.fieldlabels import LABEL_BY_KEY, SECTION_TITLES, FieldLabel, section_fields
from synthadmin.mood_chart import STATE_LABELS
from synthadmin.selectors import user_ids_named
from synthadmin.services.patient_truth import checkin_day_state

#: Key values shown in the list: (column name, JSON key); labels from ``fieldlabels``.
LIST_VALUES: tuple[tuple[str, str], ...] = (
    ("sleep_data", "hoursSlept"),
    ("mood_data", "energyLevel"),
    ("mood_data", "depressedMood"),
    ("mood_data", "elevation"),
)


class CheckInAdmin(
    RealPatientsPrivateAdmin[CheckIn], ExportActionsAdmin, ReadOnlyAdminMixin, BoundedListAdmin[CheckIn]
):
    """The list costs what it shows (``paging``, ``date_navigation``): sorted by date only — the
    one order an index serves (patient or state would sort every check-in); each row's state is
    one probe of the intervals' index, its patient's e-mail and name one of ``profiles``'s and
    ``auth.users``'s primary keys, for the page's rows only."""

    list_display = ("patient_email", "checkin_date", "state", *(f"list_{key}" for _, key in LIST_VALUES))
    list_filter = (PatientTestFlagFilter, CheckinRunFilter, StateFilter)
    actions = [export_checkins]
    date_hierarchy = "checkin_date"
    #: No join for the patient: its e-mail is a probe of ``profiles``'s key for the page's rows
    #: only; joined, PostgreSQL would join every check-in of the day it sorts to pick the page.
    list_select_related = False
    #: Real patients' check-ins are shown only to staff who may see them (``admin.privacy``).
    profile_field = "user"
    search_fields = ("user__email",)
    search_help_text = "The patient's e-mail or name (accents and case aside)."
    fieldsets = (
        (None, {"fields": ("patient", "checkin_date", "state", "created_at")}),
        *(  # type: ignore[arg-type]  # generated sections; django-stubs expects literal field options
            (SECTION_TITLES[column], {"fields": tuple(f"field_{f.key}" for f in section_fields(column))})
            for column in PAYLOAD_COLUMNS
        ),
    )
    readonly_fields = (
        "patient",
        "checkin_date",
        "state",
        "created_at",
        *(f"field_{f.key}" for c in PAYLOAD_COLUMNS for f in section_fields(c)),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[CheckIn]:
        checkins = (
            super()
            .get_queryset(request)
            .annotate(
                _day_state=checkin_day_state(),
                _email=Subquery(Profile.objects.filter(id=OuterRef("user_id")).values("email")[:1]),
                _name=Subquery(
                    AuthUser.objects.filter(id=OuterRef("user_id")).values(n=KT("raw_user_meta_data__name"))[
                        :1
                    ]
                ),
            )
        )
        return DateNavigationQuerySet.of(checkins)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CheckIn], search_term: str
    ) -> tuple[QuerySet[CheckIn], bool]:
        """The patient's e-mail (Django's search), or their displayed name: the users the name
        index finds (``selectors.user_ids_named``), their check-ins by the app's own index."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        named = user_ids_named(search_term)
        if named is not None:
            results = results | queryset.filter(user_id__in=named)
        return results, may_have_duplicates

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        checkin = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if checkin is not None:
            context["title"] = f"{_patient_name(checkin)} — {checkin.checkin_date.isoformat()}"
            context["subtitle"] = None
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description="Patient")
    def patient_email(self, obj: CheckIn) -> str:
        return _email(obj)

    @admin.display(description="Patient")
    def patient(self, obj: CheckIn) -> str:
        return format_html(
            '<a href="{}">{}</a> ({})',
            admin_url(self.admin_site, Profile, "change", obj.user_id),
            _patient_name(obj),
            _email(obj),
        )

    @admin.display(description="Ground-truth state")
    def state(self, obj: CheckIn) -> str:
        value = getattr(obj, "_day_state", None)
        return STATE_LABELS.get(value, value) if value else "—"


def _email(checkin: CheckIn) -> str:
    return str(getattr(checkin, "_email", None) or checkin.user_id)


def _patient_name(checkin: CheckIn) -> str:
    return str(getattr(checkin, "_name", None) or _email(checkin))


def _field_display(label: FieldLabel) -> Callable[[CheckInAdmin, CheckIn], str]:
    def display(self: CheckInAdmin, obj: CheckIn) -> str:
        return label.format((getattr(obj, label.column) or {}).get(label.key))

    display.short_description = label.label_with_unit  # type: ignore[attr-defined]
    display.__name__ = f"field_{label.key}"
    return display


def _list_display(label: FieldLabel) -> Callable[[CheckInAdmin, CheckIn], str]:
    def display(self: CheckInAdmin, obj: CheckIn) -> str:
        value = (getattr(obj, label.column) or {}).get(label.key)
        return "—" if value is None else str(value)

    display.short_description = label.label_with_unit  # type: ignore[attr-defined]
    display.__name__ = f"list_{label.key}"
    return display


for _column in PAYLOAD_COLUMNS:
    for _label in section_fields(_column):
        setattr(CheckInAdmin, f"field_{_label.key}", _field_display(_label))
for _column, _key in LIST_VALUES:
    setattr(CheckInAdmin, f"list_{_key}", _list_display(LABEL_BY_KEY[_key]))
