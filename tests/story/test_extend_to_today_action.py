"""The admin action "Extend selected test patients to today", with "Select all" across 1,005 profiles."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.utils import timezone

from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from tests.realdata import insert_real_user
from tests.story.conftest import generate, staff_with
from tests.story.test_select_all_actions import CHANGELIST, _bulk_synthetic, _confirm, _count, _select_all

COUNT = 1005


def _truth(start: dt.date, end: dt.date) -> dict:
    """A stored ground truth: one remission episode, 12 of its 40 days spent by ``end``."""
    return {
        "version": 1,
        "pattern": "stable",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "states": [["euthymic", start.isoformat(), end.isoformat()]],
        "episodes": [
            {
                "state": "euthymic",
                "start": start.isoformat(),
                "end": end.isoformat(),
                "full": False,
                "kind": "remission",
                "true_days": 40,
            }
        ],
    }


def test_extend_to_today_selected_across_a_filtered_list(admin_client, supabase_tables_cleanup):
    today = timezone.localdate()
    last = today - dt.timedelta(days=3)
    run = _bulk_synthetic(COUNT)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE public.check_ins SET checkin_date = %s", [last])
    SyntheticUser.objects.filter(run=run).update(ground_truth=_truth(last - dt.timedelta(days=11), last))
    real = insert_real_user(checkins=2)
    real_before = _count("SELECT count(*) FROM public.check_ins WHERE user_id = %s", [real])

    url, page = _select_all(admin_client, {"test_patient": "yes"}, "extend_to_today")
    assert page.status_code == 200 and f'id="synthetic-patients">{COUNT}</strong>' in page.content.decode()
    assert not SyntheticRun.objects.filter(kind="extend").exists()  # the confirmation writes nothing

    done = _confirm(admin_client, url, page)

    assert done.status_code == 200
    extend = SyntheticRun.objects.get(kind="extend")
    assert extend.parameters["mode"] == "to_today" and extend.status == "succeeded"
    additions = CheckinAddition.objects.filter(run=extend)
    assert additions.count() == COUNT
    assert {a.ground_truth["start"] for a in additions} == {(last + dt.timedelta(days=1)).isoformat()}
    # The open remission goes on: 12 of its 40 days were spent, 3 more fit before today.
    assert {tuple(a.ground_truth["states"][0]) for a in additions} == {
        ("euthymic", (last + dt.timedelta(days=1)).isoformat(), today.isoformat())
    }
    added = _count("SELECT count(*) FROM public.check_ins WHERE checkin_date > %s", [last])
    assert added == extend.checkins_created > COUNT  # about 0.85 x 3 per patient
    assert _count("SELECT count(*) FROM public.check_ins WHERE checkin_date > %s", [today]) == 0
    assert _count("SELECT count(*) FROM public.check_ins WHERE user_id = %s", [real]) == real_before
    messages = [str(m) for m in done.context["messages"]]
    assert any(m.startswith(f"Extended {COUNT:,} patients to ") for m in messages), messages

    # Again the same day: nothing to add, and no run.
    url, page = _select_all(admin_client, {"test_patient": "yes"}, "extend_to_today")
    again = _confirm(admin_client, url, page)
    assert SyntheticRun.objects.filter(kind="extend").count() == 1
    assert any(str(m).startswith("Nothing added:") for m in again.context["messages"])


def test_only_staff_who_may_generate_see_the_action(client, supabase_tables_cleanup):
    generate(patients=1, days=10)
    client.force_login(staff_with("view_profile"))
    page = client.get(CHANGELIST)
    form = page.context["action_form"]  # None: no action at all for this staff member
    assert form is None or "extend_to_today" not in dict(form.fields["action"].choices)
    denied = client.post(CHANGELIST, {"action": "extend_to_today", "select_across": "1", "index": "0"})
    assert not SyntheticRun.objects.filter(kind="extend").exists()
    assert denied.status_code in (200, 302)

    client.force_login(staff_with("view_profile", "generate_synthetic_data"))
    page = client.get(CHANGELIST)
    choices = dict(page.context["action_form"].fields["action"].choices)
    assert choices["extend_to_today"] == "Extend selected test patients to today"
