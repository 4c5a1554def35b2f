"""Find people: the profiles list finds synthadmin's users by their displayed name, accents and
case aside (the ledger's folded, indexed ``search_name``), by e-mail and by id; the therapist
filter is a search box; a therapist's page lists their patients, a patient's page links the
therapist; the migration names the users made before it."""

from __future__ import annotations

import importlib
import re
import uuid

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import QuerySet
from django.urls import reverse

from synthadmin.models import SyntheticUser
from synthadmin.selectors import user_ids_named
from synthadmin.text import name_folded
from tests.realdata import insert_real_user
from tests.story.conftest import generate, staff_with

PROFILES = reverse("admin:profiles_profile_changelist")


def _names(report) -> dict:
    """Displayed name of each of the run's users, by id (what the admin shows)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.id, u.raw_user_meta_data ->> 'name', p.role FROM auth.users u "
            "JOIN public.profiles p ON p.id = u.id WHERE u.id IN "
            "(SELECT user_id FROM synthadmin_syntheticuser WHERE run_id = %s)",
            [report.run_id],
        )
        return {user_id: (name, role) for user_id, name, role in cursor.fetchall()}


def _named(search: str) -> QuerySet[SyntheticUser, uuid.UUID]:
    named = user_ids_named(search)
    assert named is not None
    return named


def _group(pattern: str, text: str) -> str:
    found = re.search(pattern, text, re.S)
    assert found is not None, pattern
    return found.group(1)


def _listed(client, query: str) -> set[str]:
    response = client.get(PROFILES + query)
    assert response.status_code == 200
    return {str(p.pk) for p in response.context["cl"].result_list}


@pytest.fixture
def people(supabase_tables_cleanup):
    report = generate(patients=40, therapists=3, days=3, pattern="stable", seed=23)
    names = _names(report)
    accented = [(u, n) for u, (n, role) in names.items() if role == "patient" and name_folded(n) != n.lower()]
    assert accented, "a pt_BR population of 40 has names with accents"
    return report, names, accented[0]


def test_search_by_accented_name_its_unaccented_spelling_email_and_id(client, people):
    _report, names, (user_id, name) = people
    client.force_login(staff_with("view_profile"))
    same_name = {str(u) for u, (n, _) in names.items() if name_folded(n) == name_folded(name)}
    assert str(user_id) in same_name
    for query in (name, name_folded(name), name.upper(), name_folded(name).upper()):
        assert _listed(client, "?q=" + query) >= same_name, query
        assert str(user_id) in _listed(client, "?q=" + query)
    surname = name_folded(name).split()[-1]
    assert str(user_id) in _listed(client, f"?q={surname[:4]}")  # the start of a word
    email = SyntheticUser.objects.filter(user_id=user_id, state="complete").get().email
    assert _listed(client, "?q=" + email.split("@")[0]) == {str(user_id)}
    assert _listed(client, f"?q={user_id}") == {str(user_id)}
    assert _listed(client, "?q=zzqxnobody") == set()


def test_a_search_for_a_name_reads_the_index_not_auth_users(people):
    """At 10,000 users in the ledger, a name is found through the index of its words."""
    report, _, (user_id, name) = people
    SyntheticUser.objects.bulk_create(
        SyntheticUser(
            run_id=report.run_id,
            user_id=uuid.uuid4(),
            email=f"filler{i}@example.com",
            role="patient",
            state="complete",
            search_name=f"filler{i % 97} person{i}",
        )
        for i in range(10_000)
    )
    named = _named(name)
    sql, params = named.query.sql_with_params()
    assert "auth" not in sql and "raw_user_meta_data" not in sql
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE synthadmin_syntheticuser")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on user_search_name" in plan, plan
    assert "Seq Scan" not in plan, plan
    assert user_id in set(named)


def test_therapist_filter_page_and_links(client, people):
    _report, names, _ = people
    therapists = [u for u, (_, role) in names.items() if role == "therapist"]
    client.force_login(staff_with("view_profile"))
    insert_real_user(role="therapist", email="dr.elsewhere@example.org")
    listing = client.get(PROFILES).content.decode()
    assert 'id="therapist-search"' in listing
    assert "dr.elsewhere@example.org" not in listing  # a search box, not a list of every therapist

    therapist = therapists[0]
    email = str(
        client.get(reverse("admin:profiles_profile_change", args=[therapist])).context["original"].email
    )
    page = client.get(reverse("admin:profiles_profile_change", args=[therapist])).content.decode()
    caseload = _group(r'<div class="module" id="caseload">(.*?)</div>', page)
    linked = set(re.findall(r"/admin/profiles/profile/([0-9a-f-]{36})/change/", caseload))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT patient_id FROM public.therapist_patients WHERE therapist_id = %s", [therapist]
        )
        patients = {str(p) for (p,) in cursor.fetchall()}
    assert patients and linked == patients
    assert f"Patients ({len(patients)})" in caseload

    assert _listed(client, f"?therapist={therapist}") == patients
    assert _listed(client, f"?therapist={email.split('@')[0]}") == patients  # by part of the e-mail
    therapist_name = names[therapist][0]
    assert _listed(client, f"?therapist={name_folded(therapist_name)}") >= patients  # by name
    assert _listed(client, "?therapist=nobody-at-all") == set()

    patient = next(iter(patients))
    patient_page = client.get(reverse("admin:profiles_profile_change", args=[patient])).content.decode()
    story = _group(r'<dd id="story-therapist">(.*?)</dd>', patient_page)
    assert f"/admin/profiles/profile/{therapist}/change/" in story


def test_migration_names_the_users_made_before_it(people):
    report, _, (user_id, name) = people
    SyntheticUser.objects.filter(run_id=report.run_id).update(search_name="")
    assert not _named(name).exists()
    migration = importlib.import_module("synthadmin.migrations.0011_user_search_name")
    with connection.schema_editor() as editor:
        migration.backfill(apps, editor)
    assert user_id in set(_named(name))
    entry = SyntheticUser.objects.filter(user_id=user_id).first()
    assert entry is not None
    assert entry.search_name == name_folded(name)
