"""Admin for profiles: read-only views of the Supabase tables, with the test-patient filter."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

import synthadmin.admin_site  # noqa: F401  (site titles)
from profiles.models import Profile
from synthadmin.exceptions import InvalidRequestError, SynthadminError
from synthadmin.forms import ExtendForm, GenerateForm
from synthadmin.models import SyntheticRun
from synthadmin.selectors import profile_is_synthetic, therapist_email
from synthadmin.services.extend import synthetic_checkins_extend
from synthadmin.services.generation import Starter, synthetic_generate
from synthadmin.services.purge import synthetic_purge
from synthadmin.services.requests import GenerationRequest
from synthadmin.target import target_get

GENERATE_PERMISSION = "synthadmin.generate_synthetic_data"
PURGE_PERMISSION = "synthadmin.purge_synthetic_data"


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


def staff_starter(request: HttpRequest) -> Starter:
    return Starter(
        f"staff:{request.user.get_username()}", user_id=request.user.pk, source=SyntheticRun.Source.ADMIN
    )


def run_link(run_id: uuid.UUID) -> str:
    return format_html(
        '<a href="{}">run {}</a>',
        reverse("admin:synthadmin_syntheticrun_change", args=[run_id]),
        str(run_id)[:8],
    )


class SyntheticDataPermissions:
    """The two custom permissions behind every synthetic-data button, action and URL."""

    def has_generate_synthetic_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(GENERATE_PERMISSION)

    def has_purge_synthetic_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PURGE_PERMISSION)


@admin.register(Profile)
class ProfileAdmin(SyntheticDataPermissions, ReadOnlyAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/profiles/profile/change_list.html"
    actions = ["delete_synthetic_users", "add_checkin_days"]
    list_display = ("email", "role", "test_patient", "therapist_email", "checkin_count", "created_at")
    list_filter = (TestPatientFilter, "role")
    search_fields = ("email", "username")
    list_per_page = 50
    show_full_result_count = False
    fields = (
        "id",
        "email",
        "username",
        "role",
        "therapist_email",
        "is_test_patient",
        "created_at",
        "updated_at",
    )
    readonly_fields = ("therapist_email",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Profile]:
        # One query for the page: the count is an aggregate, the therapist a subquery through
        # whichever link this database has (synthadmin.selectors), not a query per row.
        queryset = super().get_queryset(request).annotate(_checkin_count=Count("checkins"))
        therapist = therapist_email(target_get())
        return queryset.annotate(_therapist_email=therapist) if therapist is not None else queryset

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            profile_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(id=profile_id), may_have_duplicates

    @admin.display(description="Test patient", boolean=True, ordering="is_test_patient")
    def test_patient(self, obj: Profile) -> bool:
        return profile_is_synthetic(obj)

    @admin.display(description="Therapist")
    def therapist_email(self, obj: Profile) -> str:
        return getattr(obj, "_therapist_email", None) or "—"

    @admin.display(description="Check-ins", ordering="_checkin_count")
    def checkin_count(self, obj: Profile) -> int:
        return obj._checkin_count

    # --- "Generate synthetic data" ----------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        generate = path(
            "generate/",
            self.admin_site.admin_view(self.generate_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_generate",
        )
        return [generate, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        context = {"can_generate": self.has_generate_synthetic_permission(request), **(extra_context or {})}
        return super().changelist_view(request, context)

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        """The form behind the button: validate, call the service, log, message, redirect."""
        if not self.has_generate_synthetic_permission(request):
            raise PermissionDenied
        form = GenerateForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            generation = GenerationRequest(
                patients=data["patients"],
                therapists=data["therapists"],
                checkin_days=data["checkin_days"],
                pattern=data["pattern"],
                seed=data["seed"],
                end_date=data["end_date"],
            )
            try:
                report = synthetic_generate(request=generation, started_by=staff_starter(request))
            except InvalidRequestError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except SynthadminError as exc:
                form.add_error(None, str(exc))
            else:
                run = SyntheticRun.objects.get(pk=report.run_id)
                summary = (
                    f"{report.patients_created} patients, {report.therapists_created} therapists and "
                    f"{report.checkins_created} check-ins"
                )
                self.log_addition(request, run, f"Generated {summary} ({report.status}).")
                if report.status == SyntheticRun.Status.SUCCEEDED:
                    self.message_user(
                        request, format_html("Created {} — {}.", summary, run_link(run.id)), messages.SUCCESS
                    )
                else:
                    self.message_user(
                        request,
                        format_html(
                            "Run {}: created {}; {} — {}.",
                            report.status,
                            summary,
                            report.error,
                            run_link(run.id),
                        ),
                        messages.WARNING if report.status == SyntheticRun.Status.PARTIAL else messages.ERROR,
                    )
                changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
                return HttpResponseRedirect(f"{changelist}?test_patient=yes")
        context = {
            **self.admin_site.each_context(request),
            "title": "Generate synthetic data",
            "opts": self.opts,
            "form": form,
            "max_patients": settings.SYNTHADMIN_ADMIN_MAX_PATIENTS,
        }
        return TemplateResponse(request, "admin/profiles/profile/generate.html", context)

    # --- actions ------------------------------------------------------------------------------
    @admin.action(permissions=["purge_synthetic"], description="Delete selected synthetic users")
    def delete_synthetic_users(
        self, request: HttpRequest, queryset: QuerySet[Profile]
    ) -> HttpResponse | None:
        """Delete through the service; real profiles in the selection are named and left alone."""
        ids = list(queryset.values_list("id", flat=True))
        if request.POST.get("post") != "yes":
            preview = synthetic_purge(user_ids=ids, dry_run=True)
            context = {
                **self.admin_site.each_context(request),
                "title": "Delete synthetic users?",
                "opts": self.opts,
                "preview": preview,
                "selected": ids,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(
                request, "admin/profiles/profile/delete_synthetic_confirmation.html", context
            )
        # What the service will delete, read before it does (for the log), logged after it did:
        # only the users it reports deleted (compare delete_selected).
        before = {str(p.pk): p for p in Profile.objects.filter(id__in=ids)}
        try:
            report = synthetic_purge(user_ids=ids)
        except SynthadminError as exc:
            self.message_user(request, f"Nothing deleted: {exc}", messages.ERROR)
            return None
        self.log_deletions(request, [before[i] for i in report.deleted_user_ids if i in before])
        self.message_user(
            request,
            f"Deleted {report.users_deleted} synthetic users ({report.checkins_deleted} check-ins).",
            messages.SUCCESS,
        )
        if report.skipped_real:
            self.message_user(
                request, "Not deleted (real users): " + ", ".join(report.skipped_real), messages.WARNING
            )
        for line in report.left_alone + report.blocked:
            self.message_user(request, f"Left in place: {line}", messages.WARNING)
        for error in report.errors:
            self.message_user(request, f"Not deleted: {error}", messages.ERROR)
        return None

    @admin.action(
        permissions=["generate_synthetic"], description="Add check-in days to selected test patients"
    )
    def add_checkin_days(self, request: HttpRequest, queryset: QuerySet[Profile]) -> HttpResponse | None:
        """Intermediate page (days, pattern), then the service; real patients are refused."""
        form = ExtendForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            try:
                report, refusals = synthetic_checkins_extend(
                    patient_ids=queryset.values_list("id", flat=True),
                    days=form.cleaned_data["days"],
                    pattern=form.cleaned_data["pattern"],
                    started_by=staff_starter(request),
                )
            except InvalidRequestError as exc:
                form.add_error(None, str(exc))
            else:
                run = SyntheticRun.objects.get(pk=report.run_id)
                self.log_addition(
                    request, run, f"Added {report.checkins_created} check-ins ({report.status})."
                )
                self.message_user(
                    request,
                    format_html("Added {} check-ins — {}.", report.checkins_created, run_link(run.id)),
                    messages.SUCCESS if report.status == SyntheticRun.Status.SUCCEEDED else messages.WARNING,
                )
                if refusals:
                    self.message_user(
                        request,
                        "Refused: " + "; ".join(f"{r.email} ({r.reason})" for r in refusals),
                        messages.WARNING,
                    )
                return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Add check-in days",
            "opts": self.opts,
            "form": form,
            "queryset": queryset,
            "real": [p for p in queryset if not profile_is_synthetic(p)],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/profiles/profile/add_checkin_days.html", context)
