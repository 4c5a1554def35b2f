"""Admin for check-ins: read-only, with the payloads pretty-printed."""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from checkins.models import PAYLOAD_COLUMNS, CheckIn
from profiles.admin import ReadOnlyAdminMixin, TestPatientFilter


class PatientTestFlagFilter(TestPatientFilter):
    title = "Test patient"
    parameter_name = "test_patient"
    field_prefix = "user__"


def _pretty(value: object) -> str:
    return format_html('<pre class="jsonb">{}</pre>', json.dumps(value, indent=2, sort_keys=True))


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("patient_email", "checkin_date", "mood_summary")
    list_filter = (PatientTestFlagFilter,)
    date_hierarchy = "checkin_date"
    list_select_related = ("user",)
    search_fields = ("user__email",)
    show_full_result_count = False
    fields = ("user", "checkin_date", *(f"{c}_pretty" for c in PAYLOAD_COLUMNS), "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CheckIn]:
        return super().get_queryset(request).select_related("user")

    @admin.display(description="Patient", ordering="user__email")
    def patient_email(self, obj: CheckIn) -> str:
        return obj.user.email

    @admin.display(description="Mood")
    def mood_summary(self, obj: CheckIn) -> str:
        mood = obj.mood_data or {}
        sleep = obj.sleep_data or {}
        parts = [
            f"energy {mood.get('energyLevel', '?')}",
            f"depressed {mood.get('depressedMood', '?')}",
            f"elevation {mood.get('elevation', '?')}",
            f"sleep {sleep.get('hoursSlept', '?')} h",
        ]
        return " · ".join(parts)


def _make_pretty(column: str):
    @admin.display(description=column.replace("_", " "))
    def pretty(self: CheckInAdmin, obj: CheckIn) -> str:
        return _pretty(getattr(obj, column))

    pretty.__name__ = f"{column}_pretty"
    return pretty


for _column in PAYLOAD_COLUMNS:
    setattr(CheckInAdmin, f"{_column}_pretty", _make_pretty(_column))
