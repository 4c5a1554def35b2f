"""The actions on selected profiles: delete synthetic users, add check-in days (before each
patient's first), extend to today. Each confirms on a page of its own, then calls one service."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import DELETION, LogEntry
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html

from profiles.models import Profile
from synthadmin.admin.helpers import (
    NAMES_SHOWN,
    SyntheticDataPermissions,
    admin_page,
    names_listed,
    purge_report_messages,
    run_link,
    run_log_addition,
    staff_starter,
)
from synthadmin.admin.privacy import purge_report_shown
from synthadmin.admin.queued import queued_message
from synthadmin.admin.tasks import delete_users_task, users_delete_logged
from synthadmin.exceptions import InvalidRequestError, SynthadminError
from synthadmin.forms import ExtendForm
from synthadmin.models import SyntheticRun
from synthadmin.selectors import profiles_real, profiles_synthetic
from synthadmin.services.additions import AdditionRefusal
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.dispatch import in_request
from synthadmin.services.extend_today import checkins_extend_to_today
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.reports import RunReport
from synthadmin.text import plural


class ProfileActionsAdmin(SyntheticDataPermissions, admin.ModelAdmin[Profile]):
    """What the profile actions need of their admin: the permissions they ask for, and their
    pages, overridable like Django's ``delete_selected_confirmation_template``."""

    delete_synthetic_confirmation_template = "admin/profiles/profile/delete_synthetic_confirmation.html"
    add_checkin_days_template = "admin/profiles/profile/add_checkin_days.html"
    extend_to_today_confirmation_template = "admin/profiles/profile/extend_to_today.html"

    def log_synthetic_deletions(self, request: HttpRequest, deleted: Sequence[Profile]) -> None:
        """Record the deleted profiles in the admin's history (after the service deleted them,
        only those it reports; Django's ``log_deletions`` takes a queryset, which they no longer
        are)."""
        if request.user.pk is not None:
            LogEntry.objects.log_actions(request.user.pk, deleted, DELETION)


def carried_selection(request: HttpRequest) -> dict[str, Any]:
    """What a confirmation page posts back: the flag, not the rows.

    With "select all" (``select_across``) Django runs the action on the changelist's
    queryset — rebuilt from the URL's query string, which the confirmation form keeps by
    posting to the same URL — so only the ids the browser posted (one page at most) travel
    back, never thousands (``DATA_UPLOAD_MAX_NUMBER_FIELDS``).
    """
    return {
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": "1" if request.POST.get("select_across") in ("1", "True", "true", "on") else "0",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }


def selection_context(request: HttpRequest, queryset: QuerySet[Profile]) -> dict[str, Any]:
    """What a page that writes check-ins says of the selection: its size, its synthetic patients,
    the real profiles it refuses (named); and what the page posts back."""
    real = profiles_real(among=queryset).order_by("email")
    return {
        "selected_count": queryset.count(),
        "synthetic_patients": profiles_synthetic(among=queryset).filter(role=Profile.Role.PATIENT).count(),
        "real_shown": [p.email or str(p.pk) for p in real[:NAMES_SHOWN]],
        "real_more": max(real.count() - NAMES_SHOWN, 0),
        **carried_selection(request),
    }


def _refusals_message(
    modeladmin: ProfileActionsAdmin, request: HttpRequest, refusals: list[AdditionRefusal]
) -> None:
    if refusals:
        modeladmin.message_user(
            request,
            f"Refused {plural(len(refusals), 'profile')}: "
            + names_listed([f"{r.email} ({r.reason})" for r in refusals], sep="; "),
            messages.WARNING,
        )


@admin.action(permissions=["purge_synthetic"], description="Delete selected synthetic users")
def delete_synthetic_users(
    modeladmin: ProfileActionsAdmin, request: HttpRequest, queryset: QuerySet[Profile]
) -> HttpResponse | None:
    """Delete through the service; real profiles in the selection are named and left alone."""
    ids = list(queryset.values_list("id", flat=True))
    if request.POST.get("post") != "yes":
        context = {
            "title": "Delete synthetic users?",
            "preview": purge_report_shown(synthetic_users_purge(user_ids=ids, dry_run=True), request),
            "selected_count": len(ids),
            **carried_selection(request),
        }
        return admin_page(modeladmin, request, modeladmin.delete_synthetic_confirmation_template, context)
    # Many users with a worker alive: a task (as "Purge this run"); else here. Either way a run
    # in progress writing for them is stopped first, and the deleted profiles are logged in the
    # admin's history (compare delete_selected).
    by = staff_starter(request).label
    if not in_request(users=len(ids)):
        delete_users_task.enqueue([str(u) for u in ids], request.user.pk, by)
        queued_message(
            modeladmin,
            request,
            f"Deletion queued: a worker deletes the synthetic users among the "
            f"{plural(len(ids), 'selected profile')} (real ones are left alone, as the confirmation "
            "said); this list shows them gone as it goes, and each deletion goes into the history.",
        )
        return None
    try:
        report = users_delete_logged(
            user_ids=ids, log=lambda deleted: modeladmin.log_synthetic_deletions(request, deleted), by=by
        )
    except SynthadminError as exc:
        modeladmin.message_user(request, f"Nothing deleted: {exc}", messages.ERROR)
        return None
    purge_report_messages(modeladmin, request, report, verb="Deleted")
    return None


@admin.action(permissions=["generate_synthetic"], description="Add check-in days to selected test patients")
def add_checkin_days(
    modeladmin: ProfileActionsAdmin, request: HttpRequest, queryset: QuerySet[Profile]
) -> HttpResponse | None:
    """Intermediate page (days, pattern), then the service; real patients are refused."""
    form = ExtendForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        try:
            report, refusals = checkins_backfill(
                patient_ids=queryset.values_list("id", flat=True),
                days=form.cleaned_data["days"],
                pattern=form.chosen_pattern(),  # None: each patient's own
                started_by=staff_starter(request),
            )
        except InvalidRequestError as exc:
            form.add_error(None, str(exc))
        else:
            if report is None:
                modeladmin.message_user(
                    request,
                    "Nothing added: the selection has no synthetic patient synthadmin created.",
                    messages.WARNING,
                )
            else:
                run = SyntheticRun.objects.get(pk=report.run_id)
                added = plural(report.checkins_created, "check-in")
                run_log_addition(modeladmin, request, run, f"Added {added} ({report.status}).")
                modeladmin.message_user(
                    request,
                    format_html(
                        "Added {} — {}.{}",
                        added,
                        run_link(modeladmin.admin_site, run.id),
                        _stopped_by(report),
                    ),
                    messages.SUCCESS if report.status == SyntheticRun.Status.SUCCEEDED else messages.WARNING,
                )
            _refusals_message(modeladmin, request, refusals)
            return None
    context = {"title": "Add check-in days", "form": form, **selection_context(request, queryset)}
    return admin_page(modeladmin, request, modeladmin.add_checkin_days_template, context)


@admin.action(permissions=["generate_synthetic"], description="Extend selected test patients to today")
def extend_to_today(
    modeladmin: ProfileActionsAdmin, request: HttpRequest, queryset: QuerySet[Profile]
) -> HttpResponse | None:
    """Confirmation page, then the service: each synthetic patient's missing days up to today."""
    if request.POST.get("post") != "yes":
        context = {
            "title": "Extend to today",
            "today": timezone.localdate(),
            **selection_context(request, queryset),
        }
        return admin_page(modeladmin, request, modeladmin.extend_to_today_confirmation_template, context)
    try:
        done = checkins_extend_to_today(
            patient_ids=queryset.values_list("id", flat=True), started_by=staff_starter(request)
        )
    except InvalidRequestError as exc:  # e.g. a run of theirs being exported right now
        modeladmin.message_user(request, f"Nothing added: {exc}", messages.ERROR)
        return None
    current = f"{plural(done.up_to_date, 'patient')} already up to {done.today:%d %b %Y}"
    if done.report is None:
        modeladmin.message_user(request, f"Nothing added: {current}.", messages.WARNING)
    else:
        run = SyntheticRun.objects.get(pk=done.report.run_id)
        added = plural(done.report.checkins_created, "check-in")
        patients = plural(done.patients_extended, "patient")
        run_log_addition(
            modeladmin, request, run, f"Extended {patients} to today: {added} ({done.report.status})."
        )
        modeladmin.message_user(
            request,
            format_html(
                "Extended {} to {}: {} — {}.{}{}",
                patients,
                f"{done.today:%d %b %Y}",
                added,
                run_link(modeladmin.admin_site, run.id),
                f" ({current}.)" if done.up_to_date else "",
                _stopped_by(done.report),
            ),
            messages.SUCCESS if done.report.status == SyntheticRun.Status.SUCCEEDED else messages.WARNING,
        )
        for failure in done.report.failures[:NAMES_SHOWN]:
            modeladmin.message_user(
                request, f"Not extended: {failure.email}: {failure.reason}", messages.ERROR
            )
    _refusals_message(modeladmin, request, done.refusals)
    return None


def _stopped_by(report: RunReport) -> str:
    """What a message adds for a run of added days that Cancel or a purge stopped part way ("" if
    nothing did)."""
    if not report.cancelled_by:
        return ""
    if not report.cancel_for_purge:
        return f" Stopped part way: cancelled by {report.cancelled_by}."
    return f" Stopped part way: a purge by {report.cancelled_by} asked it to stop, to remove what it names."
