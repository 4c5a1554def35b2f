"""The indexed ground truth (``synthadmin_stateinterval``) follows what the services do — generate,
add days, purge the added days, purge the users — with no change to their write path (database
triggers), and the check-ins list shows it."""

from __future__ import annotations

import pytest

from synthadmin.models import StateInterval, SyntheticUser
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.ledger import Starter
from synthadmin.services.patient_truth import patient_truth_get
from synthadmin.services.purge import synthetic_users_purge
from tests.story.conftest import generate


def _intervals(user_id) -> list[tuple]:
    rows = StateInterval.objects.filter(user_id=user_id).order_by("first_day")
    return list(rows.values_list("state", "first_day", "last_day", "source"))


def test_intervals_follow_generate_backfill_and_purges(admin_client, supabase_tables_cleanup):
    report = generate(patients=3, days=40, pattern="cycling", seed=21)
    users = list(SyntheticUser.objects.filter(run_id=report.run_id).values_list("user_id", flat=True))
    generated = {user: _intervals(user) for user in users}
    for user in users:
        assert generated[user] and {row[3] for row in generated[user]} == {"entry"}
        truth = patient_truth_get(user_id=user)
        assert truth is not None and [row[:3] for row in generated[user]] == truth.states

    backfill, _ = checkins_backfill(
        patient_ids=users, days=10, pattern="manic", started_by=Starter("os:tester"), seed=3
    )
    assert backfill is not None
    for user in users:
        added = _intervals(user)
        assert {row[3] for row in added} == {"entry", "addition"}
        truth = patient_truth_get(user_id=user)
        assert truth is not None and [row[:3] for row in added] == truth.states
    listed = admin_client.get("/admin/checkins/checkin/", {"run": str(backfill.run_id), "state": "manic"})
    assert listed.context["cl"].result_count > 0

    synthetic_users_purge(run=backfill.run_id)  # removes exactly the added days
    assert {user: _intervals(user) for user in users} == generated

    synthetic_users_purge(run=report.run_id)
    assert StateInterval.objects.filter(user_id__in=users).count() == 0
    emptied = admin_client.get("/admin/checkins/checkin/", {"state": "euthymic"})
    assert emptied.context["cl"].result_count == 0


@pytest.mark.parametrize("pattern", ["stable", "rapid_cycling"])
def test_the_list_shows_each_days_state(admin_client, supabase_tables_cleanup, pattern):
    report = generate(patients=2, days=30, pattern=pattern, seed=8)
    user = SyntheticUser.objects.filter(run_id=report.run_id).values_list("user_id", flat=True)[0]
    truth = patient_truth_get(user_id=user)
    assert truth is not None
    by_day = truth.state_by_day()
    rows = (
        admin_client.get("/admin/checkins/checkin/", {"run": str(report.run_id), "all": ""})
        .context["cl"]
        .result_list
    )
    assert rows and all(row._day_state == by_day[row.checkin_date] for row in rows if row.user_id == user)
