"""The app configs: synthadmin itself, and ``django.contrib.admin`` with synthadmin's site.

Neither loads a model when imported (``INSTALLED_APPS`` imports this first). The site is here,
not in ``synthadmin.admin``: Django imports the default site while the first model admin
registers, and importing that package would register ours on a site about to be replaced.
"""

from django.apps import AppConfig
from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import pre_migrate

import synthadmin.checks  # noqa: F401  (registers the target checks)
from synthadmin.signals import create_django_schema


class SynthadminConfig(AppConfig):
    name = "synthadmin"
    verbose_name = "Synthetic data"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        pre_migrate.connect(create_django_schema, dispatch_uid="synthadmin.create_django_schema")


class SynthadminSite(admin.AdminSite):
    """Titles that say which tool staff are in; no navigation sidebar (the lists are wide:
    e-mails, therapist, counts). Its model admins are in ``synthadmin.admin``."""

    site_header = "synthadmin — synthetic test patients"
    site_title = "synthadmin"
    index_title = "Test patients, check-ins and synthetic runs"
    enable_nav_sidebar = False


class SynthadminAdminConfig(AdminConfig):
    """``django.contrib.admin`` with ``SynthadminSite`` as the default site."""

    default_site = "synthadmin.apps.SynthadminSite"
