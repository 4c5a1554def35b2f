"""The app configs: synthadmin itself, and ``django.contrib.admin`` with synthadmin's site.

Neither loads a model when imported (``INSTALLED_APPS`` imports this first). The site is here,
not in ``synthadmin.admin``: Django imports the default site while the first model admin
registers, and importing that package would register ours on a site about to be replaced.
"""

from typing import Any

from django.apps import AppConfig
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import pre_migrate
from django.http import HttpRequest
from django.template.response import TemplateResponse

import synthadmin.checks  # noqa: F401  (registers the target checks)
from synthadmin.signals import create_django_schema
from synthadmin.startup import collection_resume


class SynthadminConfig(AppConfig):
    name = "synthadmin"
    verbose_name = "Synthetic data"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        pre_migrate.connect(create_django_schema, dispatch_uid="synthadmin.create_django_schema")
        # The admin (its autodiscovery, first of the apps) and every model are loaded by now.
        collection_resume()


class SynthadminSite(admin.AdminSite):
    """Titles that say which tool staff are in; no navigation sidebar (the lists are wide:
    e-mails, therapist, counts). Its model admins are in ``synthadmin.admin``."""

    site_header = "synthadmin — synthetic test patients"
    site_title = "synthadmin"
    index_title = "Test patients, check-ins and synthetic runs"
    enable_nav_sidebar = False

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        """The home page, with the state of synthetic data for staff who may see runs: counts,
        runs in progress, workers alive (``services.overview``; cheap, estimated where exact
        would scan)."""
        context = dict(extra_context or {})
        user = request.user
        if user.has_perm("synthadmin.view_syntheticrun") or user.has_perm(
            "synthadmin.generate_synthetic_data"
        ):
            from synthadmin.selectors import user_may_view_real_patients  # models load after this module
            from synthadmin.services.overview import site_overview

            context["synthadmin_overview"] = site_overview()
            # The size of the app's tables counts real users too: for those who may see them.
            context["synthadmin_overview_tables"] = user_may_view_real_patients(user)
        return super().index(request, context)


class SynthadminAdminConfig(AdminConfig):
    """``django.contrib.admin`` with ``SynthadminSite`` as the default site."""

    default_site = "synthadmin.apps.SynthadminSite"
