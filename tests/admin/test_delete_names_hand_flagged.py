"""A profile flagged as a test patient by hand (synthadmin has no record of making it) in a
"Delete selected synthetic users" selection: named on the confirmation page and after, never
deleted — every selected profile is accounted for."""

from __future__ import annotations

from django.urls import reverse

from tests.realdata import insert_real_user
from tests.story.test_select_all_actions import _bulk_synthetic, _confirm, _count

CHANGELIST = reverse("admin:profiles_profile_changelist")


def test_a_hand_flagged_profile_is_named_and_left(admin_client, supabase_tables_cleanup):
    _bulk_synthetic(3)
    flagged = insert_real_user(email="manual.tester@example.com", is_test_patient=True, checkins=2)
    real = insert_real_user(email="maria@example.org", checkins=1)
    ids = [str(pk) for pk in _ids()]
    confirmation = admin_client.post(
        CHANGELIST, {"action": "delete_synthetic_users", "_selected_action": ids}
    )
    page = confirmation.content.decode()
    assert 'id="users-to-delete">3</strong>' in page
    assert 'id="purge-not-ours"' in page and "manual.tester@example.com" in page
    assert 'id="purge-real"' in page and "maria@example.org" in page

    done = _confirm(admin_client, CHANGELIST, confirmation)

    messages = [str(m) for m in done.context["messages"]]
    assert (
        "Not deleted (flagged as test patients, not created by synthadmin): manual.tester@example.com"
        in messages
    )
    assert _count("SELECT count(*) FROM public.profiles WHERE id IN (%s, %s)", [flagged, real]) == 2
    assert _count("SELECT count(*) FROM public.check_ins WHERE user_id = %s", [flagged]) == 2
    assert _count("SELECT count(*) FROM public.profiles") == 2


def _ids() -> list:
    from profiles.models import Profile

    return list(Profile.objects.values_list("id", flat=True))
