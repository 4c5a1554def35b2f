"""Real patients are private by default: the admin shows real (non-synthetic) users' profiles,
check-ins, ledger entries, pages and charts only to staff with ``synthadmin.view_real_patients``.

``synthadmin.selectors.user_may_view_real_patients`` decides, for every list and page here:

* **lists** hold synthetic profiles, or the check-ins or ledger entries of synthetic users, only,
  and say so under their title; their search, filters, counts, date navigation, "Select all",
  the actions' selections and autocomplete all start from ``get_queryset``, so they follow. The
  condition is the indexed flag (``selectors.profile_synthetic_q``), the one the "Test patient:
  Yes" link applies; for the ledger, whose entries hold a user's id without a relation, that no
  real profile has the id (an anti-join on the profiles' key, ``profile_ids_visible_q``);
* **a real user's page** (a profile, one of its check-ins or ledger entries, or their history)
  is refused with the admin's 403, which names the missing permission — not the "does not
  exist" of a missing row: staff who were sent a link learn what to ask for; a purge's page and
  messages count, not name, the users it left because they are real again
  (``purge_report_shown``);
* **with the permission**, each opening of a real user's page is recorded in the admin log, as a
  ``CHANGE`` entry on their profile ("Viewed …"). Profiles and check-ins are read-only in the
  admin, so every ``CHANGE`` entry on a profile is a viewing: the log answers "who saw this
  patient" by a query on the profile's history, kept in the database beside the other records,
  not in a log file that rotates away.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse

from profiles.models import Profile
from synthadmin.admin.refusals import PermissionMissing
from synthadmin.selectors import (
    REAL_PATIENTS_PERMISSION,
    profile_ids_visible_q,
    profiles_real,
    profiles_visible_q,
    user_may_view_real_patients,
)
from synthadmin.services.reports import PurgeReport
from synthadmin.text import plural

_M = TypeVar("_M", bound=Model)

#: Under the title of a list shown to staff who may not see real patients.
HIDDEN_NOTE = "Synthetic users only: real patients need the permission “Can view real patients”."


class RealPatientsPrivateAdmin(admin.ModelAdmin[_M]):
    """A list and page of profiles, or of rows that belong to one (``profile_field``), that show
    real users only to staff who may see them, and record each opening of a real user's page."""

    #: The field of the listed model that is (``"id"``) or points to (``"user"``) its profile, or
    #: that holds its profile's id without a relation (``"user_id"`` of a ledger entry).
    profile_field = "id"

    @property
    def _via(self) -> str:
        return "" if self.profile_field == "id" else f"{self.profile_field}__"

    @property
    def _related(self) -> bool:
        """Whether the condition can follow a relation to the profile (else: an anti-join)."""
        return self.profile_field == "id" or self.model._meta.get_field(self.profile_field).is_relation

    def get_queryset(self, request: HttpRequest) -> QuerySet[_M]:
        if self._related:
            visible = profiles_visible_q(user=request.user, via=self._via)
        else:
            visible = profile_ids_visible_q(user=request.user, field=self.profile_field)
        return super().get_queryset(request).filter(visible)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not user_may_view_real_patients(request.user):  # say why the list is short
            extra_context = {"subtitle": HIDDEN_NOTE, **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        real = self._real_profile_of(request, object_id)
        response = super().change_view(request, object_id, form_url, extra_context)
        if real is not None and request.method == "GET" and response.status_code == 200:
            self.log_real_patient_view(request, real, self._viewed(object_id))
        return response

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._real_profile_of(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def log_real_patient_view(self, request: HttpRequest, profile: Profile, message: str) -> None:
        """Record in the admin log that the staff member signed in opened ``profile``'s data."""
        if request.user.pk is not None:
            LogEntry.objects.log_actions(request.user.pk, [profile], CHANGE, message, single_object=True)

    def _real_profile_of(self, request: HttpRequest, object_id: str) -> Profile | None:
        """The real profile behind the page of ``object_id`` (None for a synthetic or missing
        one); ``PermissionMissing``, naming the permission, when the staff member may not see it."""
        try:
            pk = self.opts.pk.to_python(unquote(object_id))
        except (ValidationError, ValueError):
            return None  # Django's own answer for an id that is none: "does not exist"
        rows = self.model._default_manager.filter(pk=pk).values(self.profile_field)
        real = profiles_real().filter(pk__in=rows).first()
        if real is not None and not user_may_view_real_patients(request.user):
            raise PermissionMissing(REAL_PATIENTS_PERMISSION)  # the admin's 403 names it
        return real

    def _viewed(self, object_id: str) -> str:
        """What the log says was opened: the profile's page, or one of its rows'."""
        if self.profile_field == "id":
            return "Viewed the page of this real user (profile, check-ins, chart)."
        if not self._related:
            return f"Viewed their {self.opts.verbose_name} {unquote(object_id)}."
        return f"Viewed the page of their {self.opts.verbose_name} {unquote(object_id)}."


def purge_report_shown(report: PurgeReport, request: HttpRequest) -> PurgeReport:
    """``report`` as the staff member signed in may read it: without the real-patients permission,
    the users it left in place because their profile was set back to real (real by the rule) are
    counted, not named."""
    if not report.left_real or user_may_view_real_patients(request.user):
        return report
    hidden = set(report.left_real)
    count = plural(len(hidden), "user")
    note = (
        f"{count} synthadmin made whose profile was set back to real, a real user now: left in place "
        "(naming them needs the permission “Can view real patients”)"
    )
    kept = [line for line in report.left_alone if line not in hidden]
    return dataclasses.replace(report, left_alone=[*kept, note], left_real=[])
