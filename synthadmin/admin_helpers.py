"""What every synthadmin admin page shares: the custom permissions, read-only models, links.

Here, not in an app's ``admin.py``, so that the apps' admins do not import each other.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from synthadmin.models import SyntheticRun
from synthadmin.services.ledger import Starter

GENERATE_PERMISSION = "synthadmin.generate_synthetic_data"
PURGE_PERMISSION = "synthadmin.purge_synthetic_data"
EXPORT_PERMISSION = "synthadmin.export_synthetic_data"


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
