"""The runs list and a run's page (its progress, counts and users), with the run's own URLs:
purge, cancel, progress as JSON, download, logins; and the ledger's users list."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from profiles.models import Profile
from synthadmin.admin.filters import RunStatusFilter
from synthadmin.admin.helpers import (
    EXPORT_PERMISSION,
    GENERATE_PERMISSION,
    PURGE_PERMISSION,
    ReadOnlyAdminMixin,
    SyntheticDataPermissions,
    admin_page,
    admin_url,
    purge_report_messages,
    staff_starter,
)
from synthadmin.admin.paging import BoundedListAdmin
from synthadmin.admin.privacy import RealPatientsPrivateAdmin, purge_report_shown
from synthadmin.admin.queued import queued_message
from synthadmin.admin.refusals import PermissionMissing
from synthadmin.exceptions import InvalidRequestError, SynthadminError
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.services.cancel import run_cancel
from synthadmin.services.dispatch import run_purge_start_or_enqueue
from synthadmin.services.export import FORMATS, CheckinsExport, checkins_export_chunks, export_has_rows
from synthadmin.services.figures import RunFigures, parameters_rows, patterns_text, run_figures
from synthadmin.services.ledger import run_counts
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
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.text import plural

logger = logging.getLogger(__name__)

#: How often the run page asks for the run's progress while it is queued or running.
POLL_SECONDS = 1.0

#: The response header that says why a download is partial (a run still in progress).
PARTIAL_HEADER = "X-Synthadmin-Export-Partial"

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


def _figures(run: SyntheticRun, *, read_ledger: bool = True) -> RunFigures:
    """The run's numbers (``figures.run_figures``), computed once per page; the runs list reads
    the run's row alone (``read_ledger=False``: its statements stay fixed however many runs)."""
    memo = f"_synthadmin_figures_{read_ledger}"
    cached: RunFigures | None = getattr(run, memo, None)
    if cached is None:
        cached = run_figures(run, read_ledger=read_ledger)
        setattr(run, memo, cached)  # a per-page memo
    return cached


def _run_count(name: str, description: str) -> Callable[[SyntheticRunAdmin, SyntheticRun], str]:
    """A run's count on its page (``figures.run_figures``, as every page and command): while
    the run is queued or running, what its ledger says so far."""

    @admin.display(description=description)
    def display(self: SyntheticRunAdmin, obj: SyntheticRun) -> str:
        figures = _figures(obj)
        value = f"{getattr(figures, name):,}"
        return value if figures.finished else f"{value} so far (live figures under Progress)"

    display.__name__ = f"{name}_record"
    return display


class SyntheticRunAdmin(SyntheticDataPermissions, ReadOnlyAdminMixin, BoundedListAdmin[SyntheticRun]):
    list_display = (
        "short_id",
        "kind_label",
        "run_status",
        "started_by",
        "started_at",
        "patients_list",
        "therapists_list",
        "checkins_list",
        "failed_list",
        "purged_at",
    )
    list_filter = (RunStatusFilter, "kind", "source")
    #: Counts per filter choice over the runs: one aggregate over a table of runs, not of users.
    show_facets = admin.ShowFacets.ALLOW
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

    @admin.display(description="Patients", ordering="patients_created")
    def patients_list(self, obj: SyntheticRun) -> str:
        """Patients created, and per pattern when the run mixed several."""
        figures = _figures(obj, read_ledger=False)
        made, asked = figures.patterns_created, figures.patterns_asked
        if len(made) > 1:
            mixed = f" ({patterns_text(made)})"
        else:  # still going, or fewer made than asked: the run's page has the counts made
            mixed = f" (asked: {patterns_text(asked)})" if len(asked) > 1 else ""
        return f"{figures.patients_created:,}{mixed}"

    @admin.display(description="Therapists", ordering="therapists_created")
    def therapists_list(self, obj: SyntheticRun) -> str:
        return f"{_figures(obj, read_ledger=False).therapists_created:,}"

    @admin.display(description="Check-ins", ordering="checkins_created")
    def checkins_list(self, obj: SyntheticRun) -> str:
        return f"{_figures(obj, read_ledger=False).checkins_created:,}"

    @admin.display(description="Failed", ordering="users_failed")
    def failed_list(self, obj: SyntheticRun) -> str:
        return f"{_figures(obj, read_ledger=False).users_failed:,}"

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
        rows = parameters_rows(obj.parameters or {})
        return format_html(
            '<table id="run-parameters">{}</table>',
            format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', rows),
        )

    @admin.display(description="Users")
    def users_summary(self, obj: SyntheticRun) -> str:
        figures = _figures(obj)
        if obj.kind == SyntheticRun.Kind.EXTEND:
            additions = CheckinAddition.objects.filter(run=obj)
            removed = additions.filter(removed_at__isnull=False).count()
            return format_html(
                "{} extended{}",
                plural(figures.patients_created, "patient"),
                f" ({removed:,} removed by purge)" if removed else "",
            )
        link = admin_url(self.admin_site, SyntheticUser, "changelist") + f"?run__id__exact={obj.pk}"
        profiles = admin_url(self.admin_site, Profile, "changelist") + f"?run={obj.pk}"
        made = f"{plural(figures.users_created, 'user')} created, {figures.users_failed:,} failed"
        template = '{} — <a href="{}">their ledger entries</a> · <a href="{}">their profiles</a>'
        return format_html(template, made, link, profiles)

    purge_confirmation_template = "admin/synthadmin/syntheticrun/purge_confirmation.html"
    logins_template = "admin/synthadmin/syntheticrun/logins.html"

    def get_urls(self) -> list[URLPattern]:
        """The run's own URLs, before the admin's (as ``UserAdmin.get_urls``)."""
        views: dict[str, tuple[str, Callable[..., HttpResponseBase]]] = {
            "purge": ("<uuid:run_id>/purge/", self.purge_view),
            "download": ("<uuid:run_id>/download/<str:fmt>/", self.download_view),
            "progress": ("<uuid:run_id>/progress/", self.progress_view),
            "cancel": ("<uuid:run_id>/cancel/", self.cancel_view),
            "logins": ("<uuid:run_id>/logins/", self.logins_view),
        }
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        own = [
            path(route, self.admin_site.admin_view(view), name=f"{info}_{name}")
            for name, (route, view) in views.items()
        ]
        return [*own, *super().get_urls()]

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
            FORMATS
            if obj is not None and self.has_export_synthetic_permission(request) and export_has_rows(obj)
            else ()
        )
        if obj is not None:
            progress = run_progress(obj)
            context["progress"] = progress
            context["pattern_rows"] = _pattern_rows(progress.patterns_asked, progress.patterns_created)
            context["poll_seconds"] = POLL_SECONDS
            # A background run, or one going inline in some process (a generation, an addition
            # of check-in days), whose process reads the same cancel flag (run_watch.CancelWatch).
            context["can_cancel"] = not progress.finished and self.has_generate_synthetic_permission(request)
            context["cancel_inline"] = not obj.background
        logins_expire()  # an expired set is gone from the database before the page is drawn
        context["logins_held"] = (
            logins_held(run=obj) if obj is not None and logins_may_take(run=obj, user=request.user) else None
        )
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def purge_view(self, request: HttpRequest, run_id: str) -> HttpResponse:
        if not self.has_purge_synthetic_permission(request):
            raise PermissionMissing(PURGE_PERMISSION)
        run = get_object_or_404(SyntheticRun, pk=run_id)
        change_url = admin_url(self.admin_site, SyntheticRun, "change", run.pk)
        if request.method == "POST":
            try:
                # Big runs, and runs in progress, are purged by a worker when one is alive.
                report = run_purge_start_or_enqueue(run=run, by=staff_starter(request).label)
            except SynthadminError as exc:
                self.message_user(request, f"Nothing purged: {exc}", messages.ERROR)
                return HttpResponseRedirect(change_url)
            if report is None:
                self.log_change(request, run, "Enqueued a purge of the run.")
                queued_message(
                    self,
                    request,
                    "Purge queued: a worker deletes the run's users (a run in progress is cancelled "
                    "first); the run shows Purged when it is done.",
                )
                return HttpResponseRedirect(change_url)
            users, checkins = (
                plural(report.users_deleted, "synthetic user"),
                plural(report.checkins_deleted, "check-in"),
            )
            self.log_change(request, run, f"Purged {users} and {checkins}.")
            level = messages.SUCCESS if not report.errors else messages.WARNING
            purge_report_messages(self, request, report, verb="Purged", level=level)
            return HttpResponseRedirect(change_url)
        context = {
            "title": "Purge this run?",
            "run": run,
            "preview": purge_report_shown(synthetic_users_purge(run=run.pk, dry_run=True), request),
        }
        return admin_page(self, request, self.purge_confirmation_template, context)

    def progress_view(self, request: HttpRequest, run_id: str) -> JsonResponse:
        """Where the run stands, as JSON (``progress.run_progress``): what the run page polls."""
        run = get_object_or_404(SyntheticRun, pk=run_id)
        if not self.has_view_permission(request, run):
            raise PermissionMissing("synthadmin.view_syntheticrun", "synthadmin.change_syntheticrun")
        return JsonResponse(run_progress(run).as_dict())

    @method_decorator(require_POST)
    def cancel_view(self, request: HttpRequest, run_id: str) -> HttpResponse:
        """Cancel a run in progress, background or inline (POST, CSRF; the generate permission):
        ``cancel.run_cancel``. An inline run is stopped by the process running it, which reads the
        cancel flag between users or batches; the message says so."""
        if not self.has_generate_synthetic_permission(request):
            raise PermissionMissing(GENERATE_PERMISSION)
        run = get_object_or_404(SyntheticRun, pk=run_id)
        change_url = admin_url(self.admin_site, SyntheticRun, "change", run.pk)
        try:
            run = run_cancel(run=run, by=staff_starter(request).label)
        except InvalidRequestError as exc:
            self.message_user(request, f"Not cancelled: {exc}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        self.log_change(request, run, "Cancelled the run.")
        made = run_counts(run, final=run.status == SyntheticRun.Status.ABORTED).created
        self.message_user(
            request,
            f"Cancelled: the process running this run ({run.owner_host}, pid {run.owner_pid}) stops "
            "between users or batches — it starts no new one and finishes or compensates those in "
            "flight; the run then shows Aborted."
            if not run.background and run.status == SyntheticRun.Status.RUNNING
            else "Cancelled: no new user is started; users in flight are finished or compensated."
            if run.status != SyntheticRun.Status.ABORTED
            else f"Cancelled: the run is aborted with {plural(made, 'user')} created "
            "(purge the run to remove them)."
            if made
            else "Cancelled before any user was created.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(change_url)

    def download_view(self, request: HttpRequest, run_id: str, fmt: str) -> HttpResponseBase:
        """The run's check-ins as a streamed file (``services.export``); needs the export permission.

        A run still in progress gives a partial file, named ``…-partial.<fmt>`` and saying why in
        ``PARTIAL_HEADER``. A failure part way is raised from the stream, so the server aborts
        the response (the client sees an incomplete transfer, never a short file that looks
        whole). The admin log records the download once it ends, with what it held.
        """
        if not self.has_export_synthetic_permission(request):
            raise PermissionMissing(EXPORT_PERMISSION)
        run = get_object_or_404(SyntheticRun, pk=run_id)
        try:
            export = checkins_export_chunks(run=run.pk, fmt=fmt)  # type: ignore[arg-type]
        except InvalidRequestError as exc:  # an unknown format, or a purge or an extend holds the run
            self.message_user(request, f"Nothing exported: {exc}", messages.ERROR)
            return HttpResponseRedirect(admin_url(self.admin_site, SyntheticRun, "change", run.pk))
        export.when_closed(lambda done: self._download_logged(request, run, done))
        response = StreamingHttpResponse(export, content_type=CONTENT_TYPES[fmt])
        name = f"synthetic-{run.tag}{'-partial' if export.partial else ''}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        if export.partial:
            response[PARTIAL_HEADER] = export.partial
        return response

    def _download_logged(self, request: HttpRequest, run: SyntheticRun, export: CheckinsExport) -> None:
        """The admin log's record of a download, as it ended."""
        held = plural(export.rows, "check-in") + (", partial" if export.partial else "")
        if export.complete:
            message = f"Downloaded its check-ins as {export.fmt} ({held})."
        else:
            message = (
                f"A download of its check-ins as {export.fmt} stopped after {held}: the file is incomplete."
            )
        try:
            self.log_change(request, run, message)
        except DatabaseError:  # the session the export lost: the server's log has the error
            logger.warning("run %s: the admin log could not record: %s", run.pk, message)

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
        response: HttpResponseBase
        if request.method == "POST":
            try:
                lines = logins_take(run=run, user=request.user)
            except LoginsForbiddenError:
                raise PermissionDenied from None
            except LoginsNotReadyError as exc:
                response = self._logins_page(request, run, {"not_ready": str(exc)}, status=409)
            except LoginsGoneError as exc:
                response = self._logins_page(request, run, {"gone": str(exc)}, status=410)
            else:
                self.log_change(request, run, "Downloaded its logins (now deleted).")
                response = StreamingHttpResponse(lines, content_type=CONTENT_TYPES["csv"])
                response["Content-Disposition"] = f'attachment; filename="logins-{run.tag}.csv"'
            add_never_cache_headers(response)
            return response
        held = logins_held(run=run)
        if held is None and run.finished_at is None and run.parameters.get("hold_logins"):
            not_ready = "No login is held yet: the run has not created its users so far"
            response = self._logins_page(request, run, {"not_ready": not_ready})
        elif held is None:
            gone = f"The logins of run {run.tag} were already downloaded, or expired, or the run was purged."
            response = self._logins_page(request, run, {"gone": gone}, status=410)
        else:
            response = self._logins_page(request, run, {"held": held})
        add_never_cache_headers(response)
        return response

    def _logins_page(
        self, request: HttpRequest, run: SyntheticRun, context: dict[str, Any], *, status: int | None = None
    ) -> TemplateResponse:
        page = {"title": "Download logins (once)", "run": run, **context}
        return admin_page(self, request, self.logins_template, page, status=status)


def _pattern_rows(asked: dict[str, int], created: dict[str, int]) -> list[tuple[str, int, int]]:
    """(pattern, patients asked for, created) for the run page, largest first."""
    names = sorted({*asked, *created}, key=lambda p: (-asked.get(p, 0), p))
    return [(name.replace("_", " "), asked.get(name, 0), created.get(name, 0)) for name in names]


class SyntheticUserAdmin(
    RealPatientsPrivateAdmin[SyntheticUser], ReadOnlyAdminMixin, BoundedListAdmin[SyntheticUser]
):
    """The ledger: an entry per attempt to create a user. An entry whose user is real by the rule
    (its profile's flag cleared by hand) is private like that user's profile (``privacy``)."""

    profile_field = "user_id"
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
    #: Counts per filter choice over the ledger (a row per attempt to create a user).
    show_facets = admin.ShowFacets.ALLOW

    def get_queryset(self, request: HttpRequest) -> QuerySet[SyntheticUser]:
        return super().get_queryset(request).select_related("run")

    @admin.display(description="Run", ordering="run__started_at")
    def run_link(self, obj: SyntheticUser) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            admin_url(self.admin_site, SyntheticRun, "change", obj.run_id),
            str(obj.run_id)[:8],
        )
