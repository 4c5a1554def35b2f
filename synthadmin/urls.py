from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

#: Refusals inside the admin name the permission missing (``synthadmin.admin.refusals``).
handler403 = "synthadmin.admin.refusals.permission_denied"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
