"""Admin for the run ledger: read-only runs and their users, and "Purge this run"."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from profiles.admin import ReadOnlyAdminMixin, SyntheticDataPermissions
from synthadmin.exceptions import SynthadminError
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.purge import synthetic_purge


@admin.register(SyntheticRun)
class SyntheticRunAdmin(SyntheticDataPermissions, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "short_id",
        "kind",
        "status",
        "started_by",
        "started_at",
        "patients_created",
        "therapists_created",
        "checkins_created",
        "users_failed",
        "purged_at",
    )
    list_filter = ("status", "kind", "source")
    search_fields = ("id", "started_by")
    date_hierarchy = "started_at"
    fields = (
        "id",
        "kind",
        "source",
        "started_by",
        "status",
        "started_at",
        "finished_at",
        "purged_at",
        "seed",
        "auth_backend",
        "parameters_table",
        "patients_created",
        "therapists_created",
        "checkins_created",
        "users_failed",
        "retries",
        "error_summary",
        "users_summary",
    )
    readonly_fields = fields

    @admin.display(description="Run", ordering="started_at")
    def short_id(self, obj: SyntheticRun) -> str:
        return str(obj.id)[:8]

    @admin.display(description="Parameters")
    def parameters_table(self, obj: SyntheticRun) -> str:
        rows = ((key, value) for key, value in obj.parameters.items() if key != "patient_ids")
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    @admin.display(description="Users")
    def users_summary(self, obj: SyntheticRun) -> str:
        counts = obj.users.values("state").annotate(n=Count("id")).order_by("state")
        link = reverse("admin:synthadmin_syntheticuser_changelist") + f"?run__id__exact={obj.pk}"
        parts = format_html_join(", ", "{} {}", ((c["n"], c["state"]) for c in counts))
        return format_html('{} — <a href="{}">list them</a>', parts or "none", link)

    # --- "Purge this run" -------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        purge = path(
            "<uuid:run_id>/purge/",
            self.admin_site.admin_view(self.purge_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_purge",
        )
        return [purge, *super().get_urls()]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict,
        *args: object,
        obj: SyntheticRun | None = None,
        **kwargs: object,
    ) -> HttpResponse:
        context["can_purge"] = (
            obj is not None and obj.purged_at is None and self.has_purge_synthetic_permission(request)
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def purge_view(self, request: HttpRequest, run_id: str) -> HttpResponse:
        if not self.has_purge_synthetic_permission(request):
            raise PermissionDenied
        run = get_object_or_404(SyntheticRun, pk=run_id)
        change_url = reverse("admin:synthadmin_syntheticrun_change", args=[run.pk])
        if request.method == "POST":
            try:
                report = synthetic_purge(run=run.pk)
            except SynthadminError as exc:
                self.message_user(request, f"Nothing purged: {exc}", messages.ERROR)
                return HttpResponseRedirect(change_url)
            self.log_change(
                request, run, f"Purged {report.users_deleted} users and {report.checkins_deleted} check-ins."
            )
            self.message_user(
                request,
                f"Purged {report.users_deleted} synthetic users ({report.checkins_deleted} check-ins).",
                messages.SUCCESS if not report.errors else messages.WARNING,
            )
            for error in report.errors:
                self.message_user(request, f"Not deleted: {error}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": "Purge this run?",
            "opts": self.opts,
            "run": run,
            "preview": synthetic_purge(run=run.pk, dry_run=True),
        }
        return TemplateResponse(request, "admin/synthadmin/syntheticrun/purge_confirmation.html", context)


@admin.register(SyntheticUser)
class SyntheticUserAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "email",
        "role",
        "state",
        "attempt",
        "checkins",
        "run_link",
        "failure_reason",
        "created_at",
    )
    list_filter = ("state", "role", "run__kind")
    search_fields = ("email", "user_id")
    list_select_related = ("run",)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[SyntheticUser]:
        return super().get_queryset(request).select_related("run")

    @admin.display(description="Run", ordering="run__started_at")
    def run_link(self, obj: SyntheticUser) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:synthadmin_syntheticrun_change", args=[obj.run_id]),
            str(obj.run_id)[:8],
        )
