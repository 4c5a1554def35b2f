""" "Add check-in days" continues each patient's own pattern unless staff choose one: the new days
of a mixed run's manic patients are manic, its depressive patients' depressive; the page offers
"No, take me back"."""

from __future__ import annotations

from collections import Counter

import pytest
from django.urls import reverse

from profiles.models import Profile
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "admin:profiles_profile_changelist"


def _generate_mixed(client) -> SyntheticRun:
    form = {
        "patients": "4",
        "therapists": "0",
        "checkin_days": "10",
        "pattern": "stable",
        "mix": "manic=2,depressive=2",
        "seed": "11",
        "end_date": "2026-06-30",
    }
    assert client.post(reverse("admin:profiles_profile_generate"), form).status_code == 302
    return SyntheticRun.objects.get()


def _own_patterns(run: SyntheticRun) -> dict:
    return dict(run.users.filter(state="complete").values_list("user_id", "ground_truth__pattern"))


def test_new_days_continue_each_patients_own_pattern(admin_client, supabase_tables_cleanup):
    run = _generate_mixed(admin_client)
    own = _own_patterns(run)
    assert Counter(own.values()) == {"manic": 2, "depressive": 2}
    selected = [str(pk) for pk in Profile.objects.filter(id__in=own).values_list("id", flat=True)]

    page = admin_client.post(
        reverse(CHANGELIST), {"action": "add_checkin_days", "_selected_action": selected}
    )
    text = page.content.decode()
    form = page.context["form"]
    assert form["pattern"].value() == "" and "each patient&#x27;s own pattern, continued" in text
    assert form.fields["days"].label == "Check-in days"
    assert 'id="take-me-back"' in text and "No, take me back" in text

    admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "add_checkin_days",
            "_selected_action": selected,
            "apply": "1",
            "days": "40",
            "pattern": "",
        },
    )
    extend = SyntheticRun.objects.get(kind=SyntheticRun.Kind.EXTEND)
    added = dict(CheckinAddition.objects.filter(run=extend).values_list("user_id", "ground_truth__pattern"))
    assert added == own  # every patient's new days follow its own pattern
    assert extend.parameters["pattern"] is None
    assert extend.parameters["patients_by_pattern"] == {"manic": 2, "depressive": 2}


def test_a_chosen_pattern_still_applies_to_everyone(admin_client, supabase_tables_cleanup):
    run = _generate_mixed(admin_client)
    selected = [str(u) for u in run.users.filter(state="complete").values_list("user_id", flat=True)]
    admin_client.post(
        reverse(CHANGELIST),
        {
            "action": "add_checkin_days",
            "_selected_action": selected,
            "apply": "1",
            "days": "5",
            "pattern": "stable",
        },
    )
    extend = SyntheticRun.objects.get(kind=SyntheticRun.Kind.EXTEND)
    patterns = set(CheckinAddition.objects.filter(run=extend).values_list("ground_truth__pattern", flat=True))
    assert patterns == {"stable"} and SyntheticUser.objects.filter(run=run, state="complete").count() == 4
