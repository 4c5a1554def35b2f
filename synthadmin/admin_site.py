"""Titles for the admin site: staff should know at a glance which tool they are in."""

from django.contrib import admin

admin.site.site_header = "synthadmin — synthetic test patients"
admin.site.site_title = "synthadmin"
admin.site.index_title = "Test patients, check-ins and synthetic runs"
# The changelists are wide (e-mails, therapist, counts): give them the whole page.
admin.site.enable_nav_sidebar = False
