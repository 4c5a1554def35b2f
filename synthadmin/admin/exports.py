"""Exports people use: the check-ins of the selected (or filtered) test patients, or the
selected (or filtered) check-ins, as CSV or JSONL, gzip-compressed on request — through the
export service (synthetic patients only, spreadsheet-safe CSV: ``synthadmin.csvsafe``)."""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone

from checkins.models import CheckIn
from profiles.models import Profile
from synthadmin.admin.actions import carried_selection
from synthadmin.admin.helpers import SyntheticDataPermissions, admin_page
from synthadmin.admin.paging import list_count
from synthadmin.exceptions import InvalidRequestError
from synthadmin.services.export import CheckinsExport, Gzipped, checkins_export_chunks
from synthadmin.text import plural

logger = logging.getLogger(__name__)

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


class ExportForm(forms.Form):
    fmt = forms.ChoiceField(
        label="Format",
        choices=[("csv", "CSV (spreadsheets)"), ("jsonl", "JSONL (one JSON object a line)")],
        initial="csv",
        widget=forms.RadioSelect,
    )
    gzip = forms.BooleanField(label="Compress (gzip, .gz)", required=False)


class ExportActionsAdmin(SyntheticDataPermissions, admin.ModelAdmin[Any]):
    """What the export actions need of their admin: the permission and the page's template."""

    export_confirmation_template = "admin/synthadmin/export_confirmation.html"


@admin.action(permissions=["export_synthetic"], description="Export the check-ins of selected test patients")
def export_patients_checkins(
    modeladmin: ExportActionsAdmin, request: HttpRequest, queryset: QuerySet[Profile]
) -> HttpResponseBase | None:
    """Every check-in of the selected synthetic patients (real profiles are left out)."""
    selected = list_count(queryset).text()
    return _export(modeladmin, request, f"{selected} selected profiles", patients=queryset.values("id"))


@admin.action(permissions=["export_synthetic"], description="Export selected check-ins")
def export_checkins(
    modeladmin: ExportActionsAdmin, request: HttpRequest, queryset: QuerySet[CheckIn]
) -> HttpResponseBase | None:
    """The selected (or, with "select all", the filtered) check-ins of synthetic patients."""
    return _export(
        modeladmin, request, f"{list_count(queryset).text()} selected check-ins", checkins=queryset
    )


def _export(
    modeladmin: ExportActionsAdmin, request: HttpRequest, selection: str, **scope: Any
) -> HttpResponseBase | None:
    """The page (format, compression), then the file, streamed."""
    form = ExportForm(request.POST if request.POST.get("post") == "yes" else None)
    if not form.is_valid():
        context = {
            "title": "Export check-ins",
            "form": form,
            "selection": selection,
            **carried_selection(request),
        }
        return admin_page(modeladmin, request, modeladmin.export_confirmation_template, context)
    fmt, gzip = form.cleaned_data["fmt"], form.cleaned_data["gzip"]
    try:
        export = checkins_export_chunks(run=None, fmt=fmt, **scope)
    except InvalidRequestError as exc:  # a purge or an extend holds a run it reads
        modeladmin.message_user(request, f"Nothing exported: {exc}", messages.ERROR)
        return None
    export.when_closed(lambda done: _logged(request, done, selection))
    stream = Gzipped(export) if gzip else export
    response = StreamingHttpResponse(stream, content_type="application/gzip" if gzip else CONTENT_TYPES[fmt])
    name = f"synthetic-checkins-{timezone.now():%Y%m%d-%H%M%S}{'-partial' if export.partial else ''}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}{".gz" if gzip else ""}"'
    return response


def _logged(request: HttpRequest, export: CheckinsExport, selection: str) -> None:
    """The server's log records who exported what, as it ended (the admin log's entries
    belong to one object; an export of a selection has none)."""
    state = "complete" if export.complete else "stopped part way: the file is incomplete"
    logger.info(
        "%s exported %s (%s) as %s: %s",
        request.user.get_username(),
        plural(export.rows, "check-in"),
        selection,
        export.fmt,
        state,
    )
