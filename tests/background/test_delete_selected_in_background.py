""" "Delete selected synthetic users" with "Select all" across a big list and a worker alive: the
request answers at once with the deletion queued (not a 30-second request a proxy would cut), the
worker deletes exactly the synthetic users, real ones stay, and the history records each one."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import User

from tests.background.conftest import wait_until
from tests.realdata import insert_real_user
from tests.story.test_select_all_actions import _bulk_synthetic, _confirm, _count, _select_all

pytestmark = pytest.mark.django_db(transaction=True)

COUNT = 120


def test_select_all_delete_is_a_task_when_a_worker_is_alive(client, workers, settings):
    settings.SYNTHADMIN_ADMIN_INLINE_PATIENTS = 20
    user = User.objects.create_superuser("operator", "operator@example.com", "pw-for-tests")
    client.force_login(user)
    run = _bulk_synthetic(COUNT)
    real = insert_real_user(checkins=2)
    with_real_rows = _count("SELECT count(*) FROM public.check_ins WHERE user_id = %s", [real])
    workers.start()
    wait_until(
        lambda: _count("SELECT count(*) FROM synthadmin.synthadmin_taskworker WHERE stopped_at IS NULL") > 0,
        timeout=60,
        what="a worker to be alive",
        workers=workers,
    )

    url, confirmation = _select_all(client, {}, "delete_synthetic_users")
    done = _confirm(client, url, confirmation)

    assert done.status_code == 200
    messages = [str(m) for m in done.context["messages"]]
    assert any(m.startswith("Deletion queued: a worker deletes") for m in messages), messages
    wait_until(
        lambda: _count("SELECT count(*) FROM public.profiles WHERE is_test_patient") == 0,
        timeout=120,
        what="the worker to delete the synthetic users",
        workers=workers,
    )
    assert _count("SELECT count(*) FROM auth.users") == 1
    assert _count("SELECT count(*) FROM public.check_ins WHERE user_id = %s", [real]) == with_real_rows == 2
    assert run.users.filter(state="purged").count() == COUNT
    wait_until(
        lambda: LogEntry.objects.filter(action_flag=DELETION).count() == COUNT,
        timeout=30,
        what="the deletions in the admin history",
    )
    assert set(LogEntry.objects.filter(action_flag=DELETION).values_list("user_id", flat=True)) == {user.pk}
