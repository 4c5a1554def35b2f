"""A URLconf for the guest tests: the admin, and a page that reports its session's limits."""

from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path


def session_settings(request: HttpRequest) -> JsonResponse:
    """What this request's database session runs under."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), current_setting('max_parallel_workers_per_gather')"
        )
        timeout, workers = cursor.fetchone()
    return JsonResponse({"statement_timeout": timeout, "max_parallel_workers_per_gather": workers})


def sleep(request: HttpRequest) -> JsonResponse:
    """A statement longer than any limit the tests set."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(5)")
    return JsonResponse({"slept": True})


def no_database(request: HttpRequest) -> JsonResponse:
    """A page that reads nothing."""
    return JsonResponse({"database": False})


urlpatterns = [
    path("no-database/", no_database),
    path("admin/", admin.site.urls),
    path("session-settings/", session_settings),
    path("sleep/", sleep),
]
