"""Admin for profiles: read-only views of the Supabase tables, with the test-patient filter."""

from __future__ import annotations

import uuid

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

import synthadmin.admin_site  # noqa: F401  (site titles)
from profiles.models import Profile


class TestPatientFilter(admin.SimpleListFilter):
    """Yes = ``is_test_patient`` true; No = false or NULL (NULL rows are real users)."""

    title = "Test patient"
    parameter_name = "test_patient"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        prefix = getattr(self, "field_prefix", "")
        if self.value() == "yes":
            return queryset.filter(**{f"{prefix}is_test_patient": True})
        if self.value() == "no":
            return queryset.exclude(**{f"{prefix}is_test_patient": True})
        return queryset


class ReadOnlyAdminMixin:
    """The Supabase tables are the app's data: staff look, synthadmin's services write."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Profile)
class ProfileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("email", "role", "is_test_patient", "therapist_email", "checkin_count", "created_at")
    list_filter = (TestPatientFilter, "role")
    search_fields = ("email", "username")
    list_select_related = ("therapist",)
    list_per_page = 50
    show_full_result_count = False
    fields = ("id", "email", "username", "role", "therapist", "is_test_patient", "created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Profile]:
        # One query for the page: the count is an aggregate, not a query per row.
        return super().get_queryset(request).annotate(_checkin_count=Count("checkins"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            profile_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(id=profile_id), may_have_duplicates

    @admin.display(description="Therapist", ordering="therapist__email")
    def therapist_email(self, obj: Profile) -> str:
        return obj.therapist.email if obj.therapist_id and obj.therapist else "—"

    @admin.display(description="Check-ins", ordering="_checkin_count")
    def checkin_count(self, obj: Profile) -> int:
        return obj._checkin_count
