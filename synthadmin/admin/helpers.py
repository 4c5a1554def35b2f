"""What the synthadmin admin pages share: the custom permissions, read-only models, links on the
site in use, custom pages rendered the admin's way, and a purge's report as messages."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.admin import AdminSite, ModelAdmin
from django.db.models import Model
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from synthadmin.admin.privacy import purge_report_shown
from synthadmin.models import SyntheticRun
from synthadmin.services.ledger import Starter
from synthadmin.services.reports import PurgeReport
from synthadmin.text import plural

GENERATE_PERMISSION = "synthadmin.generate_synthetic_data"
PURGE_PERMISSION = "synthadmin.purge_synthetic_data"
EXPORT_PERMISSION = "synthadmin.export_synthetic_data"

#: How many names a confirmation page or a message lists before "and N more".
NAMES_SHOWN = 20


class ReadOnlyAdminMixin:
    """The Supabase tables are the app's data: staff look, synthadmin's services write."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class SyntheticDataPermissions:
    """The custom permissions behind every synthetic-data button, action and URL."""

    def has_generate_synthetic_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(GENERATE_PERMISSION)

    def has_purge_synthetic_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(PURGE_PERMISSION)

    def has_export_synthetic_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)


def staff_starter(request: HttpRequest) -> Starter:
    """Who starts a run from the admin: the staff member signed in."""
    return Starter(
        f"staff:{request.user.get_username()}", user_id=request.user.pk, source=SyntheticRun.Source.ADMIN
    )


def admin_url(site: AdminSite, model: type[Model], view: str, *args: object) -> str:
    """The URL of ``model``'s admin ``view`` ("changelist", "change", "purge"…) on ``site``.

    Reversed the way Django's own admin does: the ``admin`` application namespace with the site's
    name as the current app, so a second site links to its own pages.
    """
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args, current_app=site.name)


def run_link(site: AdminSite, run_id: uuid.UUID) -> str:
    """A link to a run's page: ``run 3f2a1b4c``."""
    return format_html(
        '<a href="{}">run {}</a>', admin_url(site, SyntheticRun, "change", run_id), str(run_id)[:8]
    )


def run_log_addition(
    modeladmin: ModelAdmin[Any], request: HttpRequest, run: SyntheticRun, message: str
) -> None:
    """Record in the admin's history that staff made ``run`` from ``modeladmin``'s page (the entry
    is the run's, whichever model that page lists)."""
    modeladmin.log_addition(request, run, message)


def admin_page(
    modeladmin: ModelAdmin[Any],
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    status: int | None = None,
) -> TemplateResponse:
    """A custom page of ``modeladmin`` (a confirmation, a form): the admin's own context
    (``each_context``, ``opts``) and ``context``, rendered for the site in use (as Django's
    ``delete_selected`` sets ``request.current_app``)."""
    request.current_app = modeladmin.admin_site.name
    page = {**modeladmin.admin_site.each_context(request), "opts": modeladmin.opts, **context}
    return TemplateResponse(request, template, page, status=status)


def names_listed(names: list[str], *, sep: str = ", ") -> str:
    """At most ``NAMES_SHOWN`` names, then how many more."""
    shown = sep.join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return f"{shown} and {more:,} more" if more > 0 else shown


def purge_report_messages(
    modeladmin: ModelAdmin[Any],
    request: HttpRequest,
    report: PurgeReport,
    *,
    verb: str,
    level: int = messages.SUCCESS,
) -> None:
    """A purge's report as admin messages: "<verb> N synthetic users (M check-ins)." at ``level``,
    then each selected profile or user it did not delete, and why (users real by the rule named
    only to staff who may see real patients: ``privacy.purge_report_shown``)."""
    report = purge_report_shown(report, request)
    modeladmin.message_user(
        request,
        f"{verb} {plural(report.users_deleted, 'synthetic user')} "
        f"({plural(report.checkins_deleted, 'check-in')}).",
        level,
    )
    if report.skipped_real:
        modeladmin.message_user(
            request, f"Not deleted (real users): {names_listed(report.skipped_real)}", messages.WARNING
        )
    if report.not_created_here:
        modeladmin.message_user(
            request,
            "Not deleted (flagged as test patients, not created by synthadmin): "
            + names_listed(report.not_created_here),
            messages.WARNING,
        )
    for line in report.left_alone + report.blocked:
        modeladmin.message_user(request, f"Left in place: {line}", messages.WARNING)
    for error in report.errors:
        modeladmin.message_user(request, f"Not deleted: {error}", messages.ERROR)
