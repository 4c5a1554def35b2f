"""The admin over the Supabase tables: titles, filters, search, counts without N+1."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from checkins.models import CheckIn
from synthadmin.apps import SynthadminSite
from synthadmin.target import target_get
from tests.realdata import insert_real_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def population():
    therapist = insert_real_user(role="therapist", email="dr.real@example.org")
    real = [insert_real_user(therapist_id=therapist, checkins=3) for _ in range(3)]
    test = [
        insert_real_user(is_test_patient=True, checkins=2, email=f"synthetic-{i}@example.com")
        for i in range(4)
    ]
    nulls = insert_real_user(is_test_patient=None, email="legacy-null@example.org")
    return {"therapist": therapist, "real": real, "test": test, "null": nulls}


def test_site_is_titled_for_the_product(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert b"synthadmin" in response.content


def test_profile_changelist_filters_test_patients(admin_client, population):
    url = reverse("admin:profiles_profile_changelist")
    yes = admin_client.get(url, {"test_patient": "yes"})
    assert yes.status_code == 200
    assert list(yes.context["cl"].result_list.values_list("is_test_patient", flat=True)) == [True] * 4
    no = admin_client.get(url, {"test_patient": "no"})
    emails = {p.email for p in no.context["cl"].result_list}
    assert "legacy-null@example.org" in emails  # NULL counts as a real user
    assert len(emails) == 5
    therapists = admin_client.get(url, {"role__exact": "therapist"})
    assert [p.email for p in therapists.context["cl"].result_list] == ["dr.real@example.org"]


def test_profile_changelist_counts_checkins_without_n_plus_one(
    admin_client, population, django_assert_max_num_queries
):
    url = reverse("admin:profiles_profile_changelist")
    # The target (the catalog, read once a minute per process) is read first, as any earlier
    # request would have: the count below is the page's own, whichever tests ran before.
    target_get(refresh=True)
    with django_assert_max_num_queries(12):
        response = admin_client.get(url)
    rows = {p.email: p._checkin_count for p in response.context["cl"].result_list}
    assert rows["dr.real@example.org"] == 0
    assert rows["synthetic-0@example.com"] == 2
    assert b"dr.real@example.org" in response.content  # therapist column


def test_profile_search_by_email_username_and_id(admin_client, population):
    url = reverse("admin:profiles_profile_changelist")
    by_email = admin_client.get(url, {"q": "dr.real"})
    assert [p.email for p in by_email.context["cl"].result_list] == ["dr.real@example.org"]
    by_id = admin_client.get(url, {"q": str(population["therapist"])})
    assert [p.id for p in by_id.context["cl"].result_list] == [population["therapist"]]
    by_username = admin_client.get(url, {"q": "legacy-null"})
    assert len(by_username.context["cl"].result_list) == 1


def test_profiles_and_checkins_are_read_only(admin_client, population):
    assert admin_client.get(reverse("admin:profiles_profile_add")).status_code == 403
    change = admin_client.get(reverse("admin:profiles_profile_change", args=[population["therapist"]]))
    assert change.status_code == 200
    assert b'name="email"' not in change.content  # shown, not editable


def test_checkin_admin_key_values_filter_and_labelled_fields(admin_client, population):
    url = reverse("admin:checkins_checkin_changelist")
    response = admin_client.get(url, {"test_patient": "yes"})
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 8
    assert b'<td class="field-list_energyLevel">5</td>' in response.content
    no = admin_client.get(url, {"test_patient": "no"})
    assert len(no.context["cl"].result_list) == 9
    checkin = CheckIn.objects.first()
    assert checkin is not None
    detail = admin_client.get(reverse("admin:checkins_checkin_change", args=[checkin.pk]))
    assert b"Energy:</label>\n" in detail.content and b'<div class="readonly">5</div>' in detail.content
    assert b"&quot;energyLevel&quot;" not in detail.content  # labelled fields, not raw JSON
    # The date hierarchy is drawn (all fixture check-ins are in January 2026, so it drills down).
    assert b'<nav class="toplinks">' in response.content
    assert b"?checkin_date__year=2026" in response.content


def test_the_site_says_which_tool_it_is(admin_client):
    assert isinstance(admin.site, SynthadminSite)
    assert "synthadmin — synthetic test patients" in admin_client.get(reverse("admin:index")).content.decode()
