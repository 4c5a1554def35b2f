"""The runs list's status filter offers what its Status column shows: "Purged" included."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from synthadmin.models import SyntheticRun

RUNS = reverse("admin:synthadmin_syntheticrun_changelist")


def _run(status: str, *, purged: bool = False) -> SyntheticRun:
    return SyntheticRun.objects.create(
        started_by="os:test",
        seed=1,
        auth_backend="local",
        status=status,
        purged_at=timezone.now() if purged else None,
    )


def test_purged_is_a_status_of_its_own(admin_client):
    kept, gone, failed = _run("succeeded"), _run("succeeded", purged=True), _run("failed")
    page = admin_client.get(RUNS)
    assert "?status=purged" in page.content.decode()

    def shown(query: str) -> set:
        return {run.pk for run in admin_client.get(RUNS + query).context["cl"].result_list}

    assert shown("?status=purged") == {gone.pk}
    assert shown("?status=succeeded") == {kept.pk}
    assert shown("?status=failed") == {failed.pk}
    assert shown("") == {kept.pk, gone.pk, failed.pk}
