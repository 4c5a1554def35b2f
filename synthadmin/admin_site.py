"""synthadmin's admin site: its titles, set on the site itself (``SynthadminAdminConfig``).

Staff should know at a glance which tool they are in; the changelists are wide (e-mails,
therapist, counts), so the navigation sidebar is off.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class SynthadminSite(admin.AdminSite):
    site_header = "synthadmin — synthetic test patients"
    site_title = "synthadmin"
    index_title = "Test patients, check-ins and synthetic runs"
    enable_nav_sidebar = False


class SynthadminAdminConfig(AdminConfig):
    """``django.contrib.admin`` with ``SynthadminSite`` as the default site."""

    default_site = "synthadmin.admin_site.SynthadminSite"
