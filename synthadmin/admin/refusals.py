"""Refusals inside the admin: a 403 in the admin's frame that names the permission missing.

A view that checks a permission itself raises ``PermissionMissing(<app_label.codename>)``; the
project's ``handler403`` (``synthadmin.urls``) renders ``admin/403.html`` for a signed-in staff
member on an admin page, with the site's header and breadcrumbs, saying which permission(s)
the page needs — by name ("Can purge synthetic data") and by code, so staff can ask for it. A
bare ``PermissionDenied`` raised by Django's own admin views (a list or a page the user may not
view) names the model permission the view asks for. Anyone else gets Django's plain 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.sites import all_sites
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views import defaults

#: The model permission each of Django's own admin views asks for (the lowest that opens it).
VIEW_PERMISSIONS = {
    "changelist": "view",
    "change": "view",
    "history": "view",
    "add": "add",
    "delete": "delete",
}


class PermissionMissing(PermissionDenied):
    """The signed-in user lacks ``permissions`` (``"app_label.codename"``; any one of them would do)."""

    def __init__(self, *permissions: str) -> None:
        self.permissions = permissions
        super().__init__(f"missing permission: {' or '.join(permissions)}")


def permission_require(request: HttpRequest, *permissions: str) -> None:
    """Raise ``PermissionMissing`` unless the user has one of ``permissions``."""
    if not any(request.user.has_perm(p) for p in permissions):
        raise PermissionMissing(*permissions)


def permission_label(permission: str) -> str:
    """``Can purge synthetic data (synthadmin.purge_synthetic_data)``; the code alone when the
    database has no such permission."""
    app_label, _, codename = permission.partition(".")
    name = (
        Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        .values_list("name", flat=True)
        .first()
    )
    return f"{name} ({permission})" if name else permission


def _site_and_permissions(
    request: HttpRequest, exception: Exception
) -> tuple[AdminSite | None, tuple[str, ...]]:
    """The admin site the refused page belongs to (None: not an admin page), and the
    permissions it needs as far as they are known."""
    match = request.resolver_match
    func: Any = match.func if match is not None else None
    model_admin = getattr(func, "model_admin", None)
    site: AdminSite | None = getattr(func, "admin_site", None) or getattr(model_admin, "admin_site", None)
    if site is None and match is not None and match.app_name == "admin":  # a page of a model admin's own
        site = next((s for s in all_sites if s.name == match.namespace), None)
    if isinstance(exception, PermissionMissing):
        return site, exception.permissions
    if model_admin is not None and match is not None and match.url_name:
        view = match.url_name.rsplit("_", 1)[-1]
        opts = model_admin.opts
        if view in VIEW_PERMISSIONS:
            action = VIEW_PERMISSIONS[view]
            wanted = [f"{opts.app_label}.{action}_{opts.model_name}"]
            if action == "view":  # Django lets the change permission open a page too
                wanted.append(f"{opts.app_label}.change_{opts.model_name}")
            return site, tuple(wanted)
    return site, ()


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The project's ``handler403``: on an admin page, for staff, the admin's own frame with
    the missing permission named; elsewhere Django's default page."""
    site, permissions = _site_and_permissions(request, exception)
    user = getattr(request, "user", None)
    if site is None or user is None or not (user.is_active and user.is_staff):
        return defaults.permission_denied(request, exception)
    request.current_app = site.name
    context = {
        **site.each_context(request),
        "title": "You do not have permission to do this",
        "missing": [permission_label(p) for p in permissions],
        "username": user.get_username(),
    }
    response = TemplateResponse(request, "admin/403.html", context, status=403)
    return response.render()
