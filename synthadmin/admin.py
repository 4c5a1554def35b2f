"""Admin for the run ledger: read-only runs and their users, and "Purge this run"."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join

from synthadmin.admin_helpers import (
    EXPORT_PERMISSION,
    ReadOnlyAdminMixin,
    SyntheticDataPermissions,
    run_link,
    staff_starter,
)
from synthadmin.exceptions import InvalidRequestError, SynthadminError
from synthadmin.models import CheckinAddition, Scenario, SyntheticRun, SyntheticUser
from synthadmin.services.cancel import run_cancel
from synthadmin.services.dispatch import purge_start_or_enqueue, run_start_or_enqueue
from synthadmin.services.export import FORMATS, synthetic_export_chunks
from synthadmin.services.logins import (
    LoginsForbiddenError,
    LoginsGoneError,
    LoginsNotReadyError,
    logins_expire,
    logins_held,
    logins_may_take,
    logins_take,
)
from synthadmin.services.progress import run_progress
from synthadmin.services.purge import synthetic_purge
from synthadmin.services.scenarios import (
    scenario_mix_text,
    scenario_request,
    scenario_reset,
    scenario_validate,
)
from synthadmin.text import plural

#: A scenario reset (purge, then run) runs inside the request: at most this many users.
RESET_INLINE_MAX = 200
#: How often the run page asks for the run's progress while it is queued or running.
POLL_SECONDS = 1.0

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


class RunStatusFilter(admin.SimpleListFilter):
    """The status the list shows: a purged run is "Purged" (whatever it ended as), the others
    their stored status."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*SyntheticRun.Status.choices, ("purged", "Purged")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = self.value()
        if value == "purged":
            return queryset.filter(purged_at__isnull=False)
        if value in SyntheticRun.Status.values:
            return queryset.filter(status=value, purged_at__isnull=True)
        return queryset


def _run_count(name: str, description: str) -> Any:
    """A run's count on its page: while the run is queued or running, the figure is that of its
    finished chunks and says so (the Progress panel above has the live one)."""

    @admin.display(description=description)
    def display(self: Any, obj: SyntheticRun) -> str:
        value = getattr(obj, name)
        if obj.status in (SyntheticRun.Status.QUEUED, SyntheticRun.Status.RUNNING):
            return f"{value} so far (live figures under Progress)"
        return str(value)

    display.__name__ = f"{name}_record"
    return display


@admin.register(SyntheticRun)
class SyntheticRunAdmin(SyntheticDataPermissions, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "short_id",
        "kind_label",
        "run_status",
        "started_by",
        "started_at",
        "patients_created",
        "therapists_created",
        "checkins_created",
        "users_failed",
        "purged_at",
    )
    list_filter = (RunStatusFilter, "kind", "source")
    search_fields = ("id", "started_by")
    date_hierarchy = "started_at"
    fields = (
        "id",
        "kind_label",
        "source",
        "started_by",
        "status_detail",
        "started_at",
        "finished_at",
        "purged_at",
        "seed",
        "auth_backend",
        "parameters_table",
        "patients_created_record",
        "therapists_created_record",
        "checkins_created_record",
        "users_failed_record",
        "retries",
        "error_summary",
        "users_summary",
    )
    readonly_fields = fields

    patients_created_record = _run_count("patients_created", "Patients created")
    therapists_created_record = _run_count("therapists_created", "Therapists created")
    checkins_created_record = _run_count("checkins_created", "Check-ins created")
    users_failed_record = _run_count("users_failed", "Users failed")

    @admin.display(description="Run", ordering="started_at")
    def short_id(self, obj: SyntheticRun) -> str:
        return str(obj.id)[:8]

    @admin.display(description="Kind", ordering="kind")
    def kind_label(self, obj: SyntheticRun) -> str:
        return obj.kind_label

    @admin.display(description="Status", ordering="status")
    def run_status(self, obj: SyntheticRun) -> str:
        """Purged runs say so; the stored status keeps how the run itself ended."""
        return obj.display_status

    @admin.display(description="Status")
    def status_detail(self, obj: SyntheticRun) -> str:
        if obj.purged_at is None:
            return obj.get_status_display()
        return f"Purged (the run itself ended as {obj.get_status_display()})"

    @admin.display(description="Parameters")
    def parameters_table(self, obj: SyntheticRun) -> str:
        rows = ((key, value) for key, value in obj.parameters.items() if key != "patient_ids")
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    @admin.display(description="Users")
    def users_summary(self, obj: SyntheticRun) -> str:
        if obj.kind == SyntheticRun.Kind.EXTEND:
            additions = CheckinAddition.objects.filter(run=obj)
            removed = additions.filter(removed_at__isnull=False).count()
            return format_html(
                "{} extended{}",
                plural(additions.count(), "patient"),
                f" ({removed} removed by purge)" if removed else "",
            )
        counts = obj.users.values("state").annotate(n=Count("id")).order_by("state")
        link = reverse("admin:synthadmin_syntheticuser_changelist") + f"?run__id__exact={obj.pk}"
        profiles = reverse("admin:profiles_profile_changelist") + f"?run={obj.pk}"
        parts = format_html_join(", ", "{} {}", ((c["n"], c["state"]) for c in counts))
        template = '{} — <a href="{}">list them</a> · <a href="{}">their profiles</a>'
        return format_html(template, parts or "none", link, profiles)

    # --- "Purge this run" -------------------------------------------------------------------
    def get_urls(self) -> list[URLPattern]:
        purge = path(
            "<uuid:run_id>/purge/",
            self.admin_site.admin_view(self.purge_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_purge",
        )
        download = path(
            "<uuid:run_id>/download/<str:fmt>/",
            self.admin_site.admin_view(self.download_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_download",
        )
        progress = path(
            "<uuid:run_id>/progress/",
            self.admin_site.admin_view(self.progress_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_progress",
        )
        cancel = path(
            "<uuid:run_id>/cancel/",
            self.admin_site.admin_view(self.cancel_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_cancel",
        )
        logins = path(
            "<uuid:run_id>/logins/",
            self.admin_site.admin_view(self.logins_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_logins",
        )
        return [purge, download, progress, cancel, logins, *super().get_urls()]

    def has_export_synthetic_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: SyntheticRun | None = None,
    ) -> HttpResponse:
        context["can_purge"] = (
            obj is not None and obj.purged_at is None and self.has_purge_synthetic_permission(request)
        )
        context["download_formats"] = (
            FORMATS if obj is not None and self.has_export_synthetic_permission(request) else ()
        )
        if obj is not None:
            progress = run_progress(obj)
            context["progress"] = progress
            context["poll_seconds"] = POLL_SECONDS
            context["can_cancel"] = (
                obj.background and not progress.finished and self.has_generate_synthetic_permission(request)
            )
        logins_expire()  # an expired set is gone from the database before the page is drawn
        context["logins_held"] = (
            logins_held(run=obj) if obj is not None and logins_may_take(run=obj, user=request.user) else None
        )
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def purge_view(self, request: HttpRequest, run_id: str) -> HttpResponse:
        if not self.has_purge_synthetic_permission(request):
            raise PermissionDenied
        run = get_object_or_404(SyntheticRun, pk=run_id)
        change_url = reverse("admin:synthadmin_syntheticrun_change", args=[run.pk])
        if request.method == "POST":
            try:
                # Big runs, and runs in progress, are purged by a worker when one is alive.
                report = purge_start_or_enqueue(run=run, by=staff_starter(request).label)
            except SynthadminError as exc:
                self.message_user(request, f"Nothing purged: {exc}", messages.ERROR)
                return HttpResponseRedirect(change_url)
            if report is None:
                self.log_change(request, run, "Enqueued a purge of the run.")
                self.message_user(
                    request,
                    "Purge queued: a worker deletes the run's users (a run in progress is cancelled "
                    "first); the run shows Purged when it is done.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url)
            users, checkins = (
                plural(report.users_deleted, "synthetic user"),
                plural(report.checkins_deleted, "check-in"),
            )
            self.log_change(request, run, f"Purged {users} and {checkins}.")
            self.message_user(
                request,
                f"Purged {users} ({checkins}).",
                messages.SUCCESS if not report.errors else messages.WARNING,
            )
            for line in report.left_alone + report.blocked:
                self.message_user(request, f"Left in place: {line}", messages.WARNING)
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

    def progress_view(self, request: HttpRequest, run_id: str) -> JsonResponse:
        """Where the run stands, as JSON (``background.run_progress``): what the run page polls."""
        run = get_object_or_404(SyntheticRun, pk=run_id)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        return JsonResponse(run_progress(run).as_dict())

    def cancel_view(self, request: HttpRequest, run_id: str) -> HttpResponse:
        """Cancel a background run (POST, CSRF; the generate permission): ``background.run_cancel``."""
        if not self.has_generate_synthetic_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = get_object_or_404(SyntheticRun, pk=run_id)
        change_url = reverse("admin:synthadmin_syntheticrun_change", args=[run.pk])
        try:
            run = run_cancel(run=run, by=staff_starter(request).label)
        except InvalidRequestError as exc:
            self.message_user(request, f"Not cancelled: {exc}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        self.log_change(request, run, "Cancelled the run.")
        made = run.users.filter(state=SyntheticUser.State.COMPLETE).count()
        self.message_user(
            request,
            "Cancelled: no new user is started; users in flight are finished or compensated."
            if run.status != SyntheticRun.Status.ABORTED
            else f"Cancelled: the run is aborted with {plural(made, 'user')} created "
            "(purge the run to remove them)."
            if made
            else "Cancelled before any user was created.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(change_url)

    def download_view(self, request: HttpRequest, run_id: str, fmt: str) -> HttpResponseBase:
        """The run's check-ins as a streamed file (``services.export``); needs the export permission."""
        if not self.has_export_synthetic_permission(request):
            raise PermissionDenied
        run = get_object_or_404(SyntheticRun, pk=run_id)
        try:
            blocks = synthetic_export_chunks(run=run.pk, fmt=fmt)  # type: ignore[arg-type]
        except InvalidRequestError as exc:
            self.message_user(request, f"Nothing exported: {exc}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:synthadmin_syntheticrun_change", args=[run.pk]))
        self.log_change(request, run, f"Downloaded its check-ins as {fmt}.")
        response = StreamingHttpResponse(blocks, content_type=CONTENT_TYPES[fmt])
        response["Content-Disposition"] = f'attachment; filename="synthetic-{run.tag}.{fmt}"'
        return response

    def logins_view(self, request: HttpRequest, run_id: str) -> HttpResponseBase:
        """The run's logins, once (``services.logins``): GET says what is held and offers the
        button (a link prefetch consumes nothing); POST streams the CSV and deletes them.

        Only the staff member who started the run, with the generate permission: 403 for anyone
        else, superusers included. 410 once downloaded, expired or purged. The response is never
        cached; the admin log records the download, never a password.
        """
        run = get_object_or_404(SyntheticRun, pk=run_id)
        if not logins_may_take(run=run, user=request.user):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Download logins (once)",
            "opts": self.opts,
            "run": run,
        }
        template = "admin/synthadmin/syntheticrun/logins.html"
        response: HttpResponseBase
        if request.method == "POST":
            try:
                lines = logins_take(run=run, user=request.user)
            except LoginsForbiddenError:
                raise PermissionDenied from None
            except LoginsNotReadyError as exc:
                response = TemplateResponse(request, template, {**context, "not_ready": str(exc)}, status=409)
            except LoginsGoneError as exc:
                response = TemplateResponse(request, template, {**context, "gone": str(exc)}, status=410)
            else:
                self.log_change(request, run, "Downloaded its logins (now deleted).")
                response = StreamingHttpResponse(lines, content_type=CONTENT_TYPES["csv"])
                response["Content-Disposition"] = f'attachment; filename="logins-{run.tag}.csv"'
            add_never_cache_headers(response)
            return response
        held = logins_held(run=run)
        if held is None and run.finished_at is None and run.parameters.get("hold_logins"):
            not_ready = "No login is held yet: the run has not created its users so far"
            response = TemplateResponse(request, template, {**context, "not_ready": not_ready})
        elif held is None:
            gone = f"The logins of run {run.tag} were already downloaded, or expired, or the run was purged."
            response = TemplateResponse(request, template, {**context, "gone": gone}, status=410)
        else:
            response = TemplateResponse(request, template, {**context, "held": held})
        add_never_cache_headers(response)
        return response


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


@admin.register(Scenario)
class ScenarioAdmin(SyntheticDataPermissions, admin.ModelAdmin):
    """Saved recipes: editable, run and reset by staff who may generate synthetic data."""

    list_display = (
        "name",
        "therapists",
        "patients",
        "mix_display",
        "checkin_days",
        "seed",
        "built_in",
        "last_run",
    )
    search_fields = ("name", "description")
    actions = ["run_scenarios", "reset_scenarios"]
    readonly_fields = ("built_in", "created_at", "updated_at")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_generate_synthetic_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_generate_synthetic_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_generate_synthetic_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_generate_synthetic_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        builtin = isinstance(obj, Scenario) and obj.built_in
        return self.has_generate_synthetic_permission(request) and not builtin

    def get_queryset(self, request: HttpRequest) -> QuerySet[Scenario]:
        return super().get_queryset(request).annotate(_runs=Count("runs"))

    def save_model(self, request: HttpRequest, obj: Scenario, form: Any, change: bool) -> None:
        scenario_validate(obj)  # the same rules as a run (raises before saving a scenario that cannot run)
        super().save_model(request, obj, form, change)

    def get_form(
        self, request: HttpRequest, obj: Scenario | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)

        class ValidatedForm(form):  # type: ignore[valid-type, misc]
            def clean(self) -> dict[str, Any]:
                data: dict[str, Any] = super().clean() or {}
                if not self.errors:
                    try:
                        scenario_validate(Scenario(**{k: v for k, v in data.items() if k != "id"}))
                    except InvalidRequestError as exc:
                        self.add_error(exc.field if exc.field in self.fields else None, str(exc))
                return data

        return ValidatedForm

    @admin.display(description="Mix")
    def mix_display(self, obj: Scenario) -> str:
        return scenario_mix_text(obj)

    @admin.display(description="Runs")
    def last_run(self, obj: Scenario) -> int:
        return int(getattr(obj, "_runs", 0))

    @admin.action(permissions=["generate_synthetic"], description="Run selected scenarios")
    def run_scenarios(self, request: HttpRequest, queryset: QuerySet[Scenario]) -> None:
        """Each scenario runs inline when small and no worker is alive, else it is enqueued
        (``background.run_start_or_enqueue``, as the generate form)."""
        for scenario in queryset:
            try:
                run, report = run_start_or_enqueue(
                    request=scenario_request(scenario), scenario=scenario, started_by=staff_starter(request)
                )
            except SynthadminError as exc:
                self.message_user(request, f"{scenario.name}: nothing run: {exc}", messages.ERROR)
                continue
            if report is None:
                self.log_addition(request, run, f"Enqueued scenario {scenario.name} as a background run.")
                self.message_user(
                    request,
                    format_html("{}: queued for background workers — {}.", scenario.name, run_link(run.id)),
                )
                continue
            self.log_addition(request, run, f"Ran scenario {scenario.name} ({report.status}).")
            self.message_user(
                request,
                format_html("{}: {} — {}.", scenario.name, report.status, run_link(run.id)),
                messages.SUCCESS if report.status == SyntheticRun.Status.SUCCEEDED else messages.WARNING,
            )

    @admin.action(
        permissions=["generate_synthetic", "purge_synthetic"], description="Reset selected scenarios"
    )
    def reset_scenarios(self, request: HttpRequest, queryset: QuerySet[Scenario]) -> HttpResponse | None:
        scenarios = [s for s in queryset if self._small_enough(request, s)]
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Reset scenarios?",
                "opts": self.opts,
                "plan": [(s, s.runs.filter(purged_at__isnull=True).count()) for s in scenarios],
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/synthadmin/scenario/reset_confirmation.html", context)
        for scenario in scenarios:
            try:
                reset = scenario_reset(scenario=scenario, started_by=staff_starter(request))
            except SynthadminError as exc:
                self.message_user(request, f"{scenario.name}: nothing reset: {exc}", messages.ERROR)
                continue
            if reset.run is None:
                first = (reset.purge.left_alone or reset.purge.blocked or reset.purge.errors or [""])[0]
                self.message_user(request, f"{scenario.name}: {reset.reason}: {first}", messages.ERROR)
                continue
            run = SyntheticRun.objects.get(pk=reset.run.run_id)
            self.log_addition(
                request,
                run,
                f"Reset scenario {scenario.name}: purged {reset.purge.users_deleted} user(s), ran again.",
            )
            self.message_user(
                request,
                format_html(
                    "{}: purged {}, then {} — {}.",
                    scenario.name,
                    plural(reset.purge.users_deleted, "user"),
                    reset.run.status,
                    run_link(run.id),
                ),
                messages.SUCCESS,
            )
        return None

    def _small_enough(self, request: HttpRequest, scenario: Scenario) -> bool:
        limit = RESET_INLINE_MAX
        if scenario.patients + scenario.therapists <= limit:
            return True
        self.message_user(
            request,
            f"{scenario.name} has {scenario.patients + scenario.therapists:,} users, more than the admin "
            f"runs inline ({limit:,}): run python manage.py scenario run {scenario.name}",
            messages.WARNING,
        )
        return False
