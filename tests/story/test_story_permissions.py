"""Who sees the story and who may export: view permissions suffice for the chart and check-in pages;
the download needs "Can export synthetic data" (the permission matrix of test_admin_permissions)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from checkins.models import CheckIn
from synthadmin.models import SyntheticUser
from tests.story.conftest import generate, staff_with

VIEW = ("view_profile", "view_checkin", "view_syntheticrun", "view_syntheticuser")


@pytest.fixture
def patient(supabase_tables_cleanup):
    report = generate(patients=1, days=20)
    entry = SyntheticUser.objects.get(run_id=report.run_id)
    checkin = CheckIn.objects.filter(user_id=entry.user_id).first()
    assert checkin is not None
    return report.run_id, entry.user_id, checkin.pk


def _download(run_id, fmt="csv"):
    return reverse("admin:synthadmin_syntheticrun_download", args=[run_id, fmt])


def test_view_permissions_see_chart_and_checkins_but_no_download(client, patient):
    run_id, user_id, checkin_id = patient
    client.force_login(staff_with(*VIEW))
    profile = client.get(reverse("admin:profiles_profile_change", args=[user_id]))
    assert profile.status_code == 200 and b'class="mood-chart"' in profile.content
    assert client.get(reverse("admin:checkins_checkin_change", args=[checkin_id])).status_code == 200
    run_page = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run_id]))
    assert run_page.status_code == 200 and b"Download CSV" not in run_page.content
    assert client.get(_download(run_id)).status_code == 403


def test_without_view_permissions_nothing_is_shown(client, patient):
    _, user_id, checkin_id = patient
    client.force_login(staff_with("export_synthetic_data"))
    assert client.get(reverse("admin:profiles_profile_change", args=[user_id])).status_code == 403
    assert client.get(reverse("admin:checkins_checkin_change", args=[checkin_id])).status_code == 403


def test_export_permission_downloads_a_streamed_file_and_logs_it(client, patient):
    run_id, user_id, _ = patient
    staff = staff_with(*VIEW, "export_synthetic_data")
    client.force_login(staff)
    run_page = client.get(reverse("admin:synthadmin_syntheticrun_change", args=[run_id]))
    assert b"Download CSV" in run_page.content and b"Download JSONL" in run_page.content

    response = client.get(_download(run_id))

    assert response.status_code == 200 and response.streaming
    assert response["Content-Disposition"] == f'attachment; filename="synthetic-{run_id.hex[:8]}.csv"'
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 1 + CheckIn.objects.filter(user_id=user_id).count()
    assert LogEntry.objects.filter(user=staff, action_flag=CHANGE, object_id=str(run_id)).exists()
    assert client.get(_download(run_id, "xlsx")).status_code == 302  # unknown format: back with a message


def test_generate_and_purge_permissions_do_not_export(client, patient):
    run_id, _, _ = patient
    client.force_login(staff_with(*VIEW, "generate_synthetic_data", "purge_synthetic_data"))
    assert client.get(_download(run_id)).status_code == 403


def test_anonymous_is_sent_to_login(client, patient):
    run_id, user_id, _ = patient
    for url in (_download(run_id), reverse("admin:profiles_profile_change", args=[user_id])):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_superuser_downloads(admin_client, patient):
    run_id, _, _ = patient
    assert admin_client.get(_download(run_id, "jsonl")).status_code == 200
