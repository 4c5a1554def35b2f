"""Real patients are private by default: staff without ``synthadmin.view_real_patients`` see no
real user anywhere in the admin — lists, search, filters, date navigation, counts, pages, history,
the chart, the home page's table sizes, downloads —; with it they see them, and the admin log
records each opening of a real user's page. Every assertion is against rows inserted as real
here: two real patients with check-ins (one with a NULL flag, as legacy rows have), a real
therapist, and a patient synthadmin generated whose flag was then cleared by hand (real by the
rule, whatever the ledger says)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from checkins.models import CheckIn
from profiles.models import Profile
from synthadmin.models import SyntheticUser
from synthadmin.selectors import REAL_PATIENTS_PERMISSION
from tests.realdata import insert_real_user
from tests.story.conftest import generate

pytestmark = pytest.mark.django_db(transaction=True)

PROFILES = reverse("admin:profiles_profile_changelist")
CHECKINS = reverse("admin:checkins_checkin_changelist")
LEDGER = reverse("admin:synthadmin_syntheticuser_changelist")
#: What the staff users here may do besides: look at every list, and download exports.
BASE = ("view_profile", "view_checkin", "view_syntheticrun", "view_syntheticuser", "export_synthetic_data")


@dataclass(frozen=True)
class World:
    run_id: uuid.UUID
    synthetic: set[uuid.UUID]
    #: Real users: inserted as the app would have them, and a generated patient unflagged by hand.
    real: set[uuid.UUID]
    real_patient: uuid.UUID
    unflagged: uuid.UUID
    real_emails: set[str]


@pytest.fixture
def world(supabase_tables_cleanup) -> World:
    report = generate(patients=3, therapists=1, days=12, seed=11)
    therapist = insert_real_user(role="therapist", email="dr.private@example.org")
    real_patient = insert_real_user(email="real.alice@example.org", therapist_id=therapist, checkins=6)
    legacy = insert_real_user(email="legacy.bob@example.org", is_test_patient=None, checkins=3)
    unflagged = (
        SyntheticUser.objects.filter(run_id=report.run_id, role="patient", state="complete")
        .order_by("id")
        .values_list("user_id", flat=True)[0]
    )
    Profile.objects.filter(pk=unflagged).update(is_test_patient=False)
    real = {therapist, real_patient, legacy, unflagged}
    return World(
        run_id=report.run_id,
        synthetic=set(Profile.objects.synthetic().values_list("id", flat=True)),
        real=real,
        real_patient=real_patient,
        unflagged=unflagged,
        real_emails={e for e in Profile.objects.filter(pk__in=real).values_list("email", flat=True) if e},
    )


def _staff(name: str, *extra: str) -> User:
    user = User.objects.create_user(username=name, password="pw-for-tests", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=[*BASE, *extra]))
    return User.objects.get(pk=user.pk)  # a fresh permission cache


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer() -> Client:
    """Staff who may look at everything synthetic, and download it; not at real patients."""
    return _client(_staff("viewer"))


@pytest.fixture
def clinician() -> User:
    """Staff who may also see real patients."""
    return _staff("clinician", REAL_PATIENTS_PERMISSION.split(".")[1])


def _listed(client: Client, url: str, **params: str) -> set[uuid.UUID]:
    """The users a list shows (profiles, or the check-ins' patients), every page of it."""
    response = client.get(url, params)
    assert response.status_code == 200, (url, params)
    rows = response.context["cl"].result_list
    return {row.pk if isinstance(row, Profile) else row.user_id for row in rows}


def _hides_real(content: bytes, world: World) -> None:
    text = content.decode()
    leaked = [e for e in world.real_emails if e in text] + [str(u) for u in world.real if str(u) in text]
    assert leaked == []


def test_without_the_permission_no_list_shows_a_real_patient(viewer, world):
    assert _listed(viewer, PROFILES) == world.synthetic
    assert CheckIn.objects.filter(user_id__in=world.real).count() > 10  # there are real ones to hide
    assert world.synthetic >= _listed(viewer, CHECKINS) != set()
    for url in (PROFILES, CHECKINS):
        page = viewer.get(url)
        _hides_real(page.content, world)
        # The test-patient filter offers no "No" (the real patients), and
        # the count is of the synthetic rows (no estimate of the whole table, which counts the
        # real ones too).
        assert b"test_patient=no" not in page.content and b"about " not in page.content
        assert page.context["subtitle"].startswith("Synthetic users only")  # and says why
        # Asked for anyway: no row, real or synthetic, and no error.
        assert _listed(viewer, url, test_patient="no") == set()
        assert _listed(viewer, url, test_patient="yes") <= world.synthetic
    assert page.context["cl"].result_count == CheckIn.objects.filter(user__is_test_patient=True).count()
    assert _listed(viewer, PROFILES, role="therapist") == world.synthetic & set(
        Profile.objects.filter(role="therapist").values_list("id", flat=True)
    )


def test_without_the_permission_search_and_dates_find_no_real_patient(viewer, world):
    for term in ("real.alice", "legacy.bob", "dr.private", "example.org", str(world.real_patient)):
        assert _listed(viewer, PROFILES, q=term) <= world.synthetic, term
        assert _listed(viewer, CHECKINS, q=term) <= world.synthetic, term
    unflagged_email = Profile.objects.get(pk=world.unflagged).email
    assert unflagged_email is not None
    assert _listed(viewer, PROFILES, q=unflagged_email) == set()
    # The real check-ins are all in January 2026 (tests.realdata), the synthetic ones in June:
    # the date navigation offers no month of real check-ins.
    months = viewer.get(CHECKINS, {"checkin_date__year": "2026"})
    assert b"checkin_date__month=6" in months.content
    assert b"checkin_date__month=1" not in months.content
    assert _listed(viewer, CHECKINS, checkin_date__year="2026", checkin_date__month="1") == set()


def test_without_the_permission_a_real_patients_pages_are_refused(viewer, world):
    real_checkin = CheckIn.objects.filter(user_id=world.real_patient).first()
    assert real_checkin is not None
    refused = [
        reverse("admin:profiles_profile_change", args=[world.real_patient]),
        reverse("admin:profiles_profile_change", args=[world.unflagged]),
        reverse("admin:profiles_profile_history", args=[world.real_patient]),
        reverse("admin:checkins_checkin_change", args=[real_checkin.pk]),
        reverse("admin:checkins_checkin_history", args=[real_checkin.pk]),
    ]
    for url in refused:
        response = viewer.get(url)
        assert response.status_code == 403, url
        assert REAL_PATIENTS_PERMISSION.encode() in response.content, url  # the admin's 403 names it
        _hides_real(response.content, world)
    synthetic_patient = next(
        p for p in Profile.objects.synthetic().filter(role="patient").values_list("id", flat=True)
    )
    page = viewer.get(reverse("admin:profiles_profile_change", args=[synthetic_patient]))
    assert page.status_code == 200 and b'class="mood-chart"' in page.content
    # Refusals are not viewings, and a synthetic patient's page is not recorded.
    assert not LogEntry.objects.exists()


def test_without_the_permission_downloads_and_the_home_page_hold_no_real_patient(viewer, world):
    for fmt in ("csv", "jsonl"):
        response = viewer.get(reverse("admin:synthadmin_syntheticrun_download", args=[world.run_id, fmt]))
        assert response.status_code == 200
        body = b"".join(response.streaming_content)
        _hides_real(body, world)
        if fmt == "jsonl":
            exported = {uuid.UUID(json.loads(line)["patient_id"]) for line in body.splitlines()}
            assert exported and exported <= world.synthetic
    home = viewer.get(reverse("admin:index"))
    assert b'id="overview-patients"' in home.content and b'id="overview-tables"' not in home.content


def test_selecting_everything_acts_on_synthetic_patients_only(viewer, world):
    """An action's selection comes from the same list: ids of real users posted by hand are not
    in it (the confirmation page counts the selection and names no real profile; it posts back
    the ids it was sent, as it always does)."""
    ids = [str(pk) for pk in Profile.objects.values_list("id", flat=True)]
    user = User.objects.get(username="viewer")
    user.user_permissions.add(Permission.objects.get(codename="generate_synthetic_data"))
    viewer.force_login(User.objects.get(pk=user.pk))
    page = viewer.post(PROFILES, {"action": "extend_to_today", "_selected_action": ids})
    assert page.status_code == 200
    assert page.context["selected_count"] == len(world.synthetic) and page.context["real_shown"] == []
    assert not [email for email in world.real_emails if email in page.content.decode()]


def test_with_the_permission_real_patients_are_shown_and_each_page_view_is_logged(clinician, world):
    client = _client(clinician)
    assert _listed(client, PROFILES) == world.synthetic | world.real
    assert _listed(client, PROFILES, test_patient="no") == world.real
    assert client.get(PROFILES).context["subtitle"] is None
    assert world.real_patient in _listed(client, CHECKINS, q="real.alice")
    assert b'id="overview-tables"' in client.get(reverse("admin:index")).content

    page = client.get(reverse("admin:profiles_profile_change", args=[world.real_patient]))
    assert page.status_code == 200 and b'class="mood-chart"' in page.content
    real_checkin = CheckIn.objects.filter(user_id=world.real_patient).order_by("checkin_date").first()
    assert real_checkin is not None
    assert client.get(reverse("admin:checkins_checkin_change", args=[real_checkin.pk])).status_code == 200
    assert client.get(reverse("admin:profiles_profile_change", args=[world.unflagged])).status_code == 200
    synthetic_patient = Profile.objects.synthetic().filter(role="patient").values_list("id", flat=True)[0]
    assert client.get(reverse("admin:profiles_profile_change", args=[synthetic_patient])).status_code == 200

    logged = LogEntry.objects.filter(
        user=clinician, action_flag=CHANGE, content_type=ContentType.objects.get_for_model(Profile)
    )
    assert sorted(logged.values_list("object_id", flat=True)) == sorted(
        [str(world.real_patient), str(world.real_patient), str(world.unflagged)]
    )
    assert {e.change_message for e in logged.filter(object_id=str(world.real_patient))} == {
        "Viewed the page of this real user (profile, check-ins, chart).",
        f"Viewed the page of their check-in {real_checkin.pk}.",
    }
    history = client.get(reverse("admin:profiles_profile_history", args=[world.real_patient]))
    assert b"Viewed the page of this real user" in history.content and b"clinician" in history.content


def test_the_ledger_keeps_a_real_users_entry_as_private_as_their_profile(viewer, clinician, world):
    """A ledger entry holds its user's e-mail and ground truth: the entry of a user who is real
    by the rule (the generated patient unflagged by hand) is out of the ledger's list, search and
    filters, and its page and history are refused, for staff without the permission; with it,
    it is there and its opening is logged on the profile, like the profile's own page."""
    entry = SyntheticUser.objects.get(user_id=world.unflagged, state="complete")
    made = set(SyntheticUser.objects.filter(run_id=world.run_id).values_list("user_id", flat=True))
    assert _listed(viewer, LEDGER) == made - {world.unflagged} != set()
    for params in ({"q": entry.email}, {"q": str(world.unflagged)}, {"state__exact": "complete"}):
        assert world.unflagged not in _listed(viewer, LEDGER, **params), params
    assert viewer.get(LEDGER).context["subtitle"].startswith("Synthetic users only")
    for name in ("change", "history"):
        response = viewer.get(reverse(f"admin:synthadmin_syntheticuser_{name}", args=[entry.pk]))
        assert response.status_code == 403 and REAL_PATIENTS_PERMISSION.encode() in response.content
        _hides_real(response.content, world)
    synthetic_entry = SyntheticUser.objects.filter(user_id__in=world.synthetic).first()
    assert synthetic_entry is not None
    assert (
        viewer.get(reverse("admin:synthadmin_syntheticuser_change", args=[synthetic_entry.pk])).status_code
        == 200
    )
    assert not LogEntry.objects.exists()

    client = _client(clinician)
    assert _listed(client, LEDGER, q=entry.email) == {world.unflagged}
    assert client.get(reverse("admin:synthadmin_syntheticuser_change", args=[entry.pk])).status_code == 200
    logged = LogEntry.objects.get(user=clinician, object_id=str(world.unflagged))
    assert (
        logged.action_flag == CHANGE and logged.change_message == f"Viewed their synthetic user {entry.pk}."
    )


def test_a_purge_counts_the_users_it_leaves_for_being_real_again_and_names_them_to_who_may_see(
    clinician, world
):
    """ "Purge this run" leaves the unflagged patient in place (it is real now): its confirmation
    page and the messages after the purge count it, without its e-mail, for staff who may purge
    but not see real patients; staff who may see them read its e-mail."""
    email = Profile.objects.get(pk=world.unflagged).email
    assert email is not None
    purge = reverse("admin:synthadmin_syntheticrun_purge", args=[world.run_id])
    purger = _client(_staff("purger", "purge_synthetic_data"))
    page = purger.get(purge)
    assert page.status_code == 200
    assert "1 user synthadmin made whose profile was set back to real" in page.content.decode()
    _hides_real(page.content, world)
    seen = _client(
        User.objects.get(pk=_staff("seer", "purge_synthetic_data", REAL_PATIENTS_PERMISSION.split(".")[1]).pk)
    ).get(purge)
    assert email in seen.content.decode()

    done = purger.post(purge, {"post": "yes"}, follow=True)
    shown = [str(m) for m in done.context["messages"]]
    assert any("1 user synthadmin made whose profile was set back to real" in m for m in shown), shown
    assert not [m for m in shown if email in m], shown
    assert Profile.objects.filter(pk=world.unflagged).exists()  # left in place, as the page said
    assert any(m.startswith("Purged ") and "synthetic user" in m for m in shown), shown


def test_superusers_have_every_permission_this_one_included(admin_client, admin_user, world):
    assert _listed(admin_client, PROFILES) == world.synthetic | world.real
    response = admin_client.get(reverse("admin:profiles_profile_change", args=[world.real_patient]))
    assert response.status_code == 200
    assert LogEntry.objects.filter(user=admin_user, object_id=str(world.real_patient)).count() == 1


def test_exports_are_of_synthetic_patients_whoever_downloads(clinician, world):
    """The export holds synthetic patients only, by design: the permission shows real patients in
    the admin, it never puts them into a file."""
    client = _client(clinician)
    response: Any = client.get(
        reverse("admin:synthadmin_syntheticrun_download", args=[world.run_id, "jsonl"])
    )
    body = b"".join(response.streaming_content)
    exported = {uuid.UUID(json.loads(line)["patient_id"]) for line in body.splitlines()}
    assert exported and exported <= world.synthetic and not exported & world.real
    assert dt.date(2026, 1, 1).isoformat() not in body.decode()
