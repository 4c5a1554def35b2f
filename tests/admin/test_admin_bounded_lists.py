"""Every admin list, filter link, search, date level and page, the patient page and the run page:
a bounded number of queries, and for each statement an index-served plan (``EXPLAIN`` with
sequential scans disabled shows no ``Seq Scan`` on ``check_ins`` or ``profiles``).

Query counts are those of a request in the test process: the web-session middleware sets and
restores the session's limits around it (2 statements; a web process sets them once per
connection instead), and the session and staff user are read (2).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from checkins.models import CheckIn
from profiles.models import Profile
from synthadmin.admin.paging import COUNT_LIMIT
from synthadmin.models import SyntheticRun
from tests.admin.admin_bounded_plans import date_links, filter_links, page_visit, seq_scans
from tests.admin.admin_bounded_population import Population

pytestmark = pytest.mark.django_db

CHECKINS = "/admin/checkins/checkin/"
PROFILES = "/admin/profiles/profile/"
USERS = "/admin/synthadmin/syntheticuser/"
RUNS = "/admin/synthadmin/syntheticrun/"

#: The statements one page may send, by page (see the module docstring for the fixed part).
MAX_QUERIES = {CHECKINS: 9, PROFILES: 8, USERS: 8, RUNS: 8}


@pytest.fixture(autouse=True)
def catalog_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin rereads the catalog every minute (``target.CACHE_SECONDS``): a test that visits
    many pages on a loaded machine takes longer than that, and the page it happens on would count
    that read (10 statements) as its own. Read once per test, as the warm-up intends."""
    monkeypatch.setattr("synthadmin.target.CACHE_SECONDS", 3600.0)


@pytest.fixture
def staff(population: Population) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("bounded", "bounded@example.com", "pw-for-tests"))
    client.get(PROFILES)  # the catalog read and other once-per-process work, out of the counts
    return client


def _visit_all(
    client: Client,
    urls: list[str],
    max_queries: int,
    assert_max,
    tables: tuple[str, ...] = ("check_ins", "profiles"),
) -> list[str]:
    """Visit every URL; the Seq Scans on ``tables`` their statements would need."""
    problems: list[str] = []
    for url in urls:
        statements = page_visit(client, url, max_queries, assert_max)
        problems += [f"{url} -> {scan}" for scan in seq_scans(statements, tables)]
    return problems


def test_checkins_list_every_filter_link_search_date_and_page(
    staff, population, django_assert_max_num_queries
):
    checkin = CheckIn.objects.filter(user_id=population.patient()).select_related("user").first()
    assert checkin is not None and checkin.user.email is not None
    email = checkin.user.email
    last_page = COUNT_LIMIT // 100  # pages count from 1
    urls = [
        CHECKINS,
        *filter_links(staff, CHECKINS),
        *date_links(staff, CHECKINS),
        *date_links(staff, f"{CHECKINS}?state=euthymic"),
        f"{CHECKINS}?p=2",
        f"{CHECKINS}?p={last_page}",
        f"{CHECKINS}?run={population.cycling_run}&state=depressed_mild",
    ]
    assert len(urls) > 20
    assert _visit_all(staff, urls, MAX_QUERIES[CHECKINS], django_assert_max_num_queries) == []
    # A search matches e-mails by substring: it reads the profiles (the app has no index for
    # that), then the matching patients' check-ins by index.
    search = f"{CHECKINS}?q={email.split('@')[0]}"
    assert (
        _visit_all(staff, [search], MAX_QUERIES[CHECKINS], django_assert_max_num_queries, ("check_ins",))
        == []
    )


def test_profiles_list_every_filter_link_and_search(
    staff, population, django_assert_max_num_queries, monkeypatch
):
    """Each filter choice is index-served on both tables. The whole list (newest first) and a
    search read every profile — the app's schema has no index on ``profiles.created_at`` nor
    for a substring of an e-mail, and synthadmin adds indexes to its own schema only — but
    never scan a check-in: a profile's columns are probes of the check-ins' indexes."""
    # The catalog is read once a minute (target.CACHE_SECONDS); on a loaded machine this test's
    # visits span more than that, and the visit that re-reads it would count ~10 more queries.
    monkeypatch.setattr("synthadmin.target.CACHE_SECONDS", 3600.0)
    patient = population.patient()
    links = filter_links(staff, PROFILES)
    therapist = Profile.objects.filter(role="therapist", is_test_patient=True).order_by("email").first()
    assert therapist is not None
    chosen = [
        *(link for link in links if not link.endswith("?")),
        f"{PROFILES}?therapist={therapist.pk}",  # one therapist's patients, by the link's index
    ]
    whole = [link for link in links if link.endswith("?")]
    assert len(chosen) >= 7
    assert _visit_all(staff, chosen, MAX_QUERIES[PROFILES], django_assert_max_num_queries) == []
    every_profile = [PROFILES, *whole, f"{PROFILES}?q=example", f"{PROFILES}?q={patient}", f"{PROFILES}?p=2"]
    assert (
        _visit_all(staff, every_profile, MAX_QUERIES[PROFILES], django_assert_max_num_queries, ("check_ins",))
        == []
    )


def test_ledger_and_runs_lists_every_filter_link_and_facets(staff, population, django_assert_max_num_queries):
    """synthadmin's own tables: bounded too; facets (one count per filter) are offered here."""
    check = django_assert_max_num_queries
    users = [USERS, *filter_links(staff, USERS), f"{USERS}?q=example"]
    runs = [RUNS, *filter_links(staff, RUNS), *date_links(staff, RUNS)]
    problems = _visit_all(staff, users, MAX_QUERIES[USERS], check)
    problems += _visit_all(staff, runs, MAX_QUERIES[RUNS], check)
    problems += _visit_all(staff, [f"{USERS}?_facets=1", f"{RUNS}?_facets=1"], MAX_QUERIES[USERS] + 3, check)
    assert problems == []


def test_patient_run_and_checkin_pages(staff, population, django_assert_max_num_queries):
    checkin = CheckIn.objects.filter(user_id=population.patient(population.cycling_run)).order_by(
        "checkin_date"
    )[0]
    pages = [
        (reverse("admin:profiles_profile_change", args=[population.patient()]), 10),
        (reverse("admin:profiles_profile_change", args=[population.patient(population.cycling_run)]), 10),
        (reverse("admin:profiles_profile_change", args=[population.real_patients[0]]), 10),
        (reverse("admin:synthadmin_syntheticrun_change", args=[population.main_run]), 12),
        (reverse("admin:synthadmin_syntheticrun_change", args=[population.backfill_run]), 12),
        (reverse("admin:checkins_checkin_change", args=[checkin.pk]), 8),
        (reverse("admin:synthadmin_scenario_changelist"), 8),
    ]
    problems = []
    for url, max_queries in pages:
        problems += seq_scans(page_visit(staff, url, max_queries, django_assert_max_num_queries))
    assert problems == []


def test_long_lists_count_to_the_limit_and_say_so(staff, population):
    assert population.checkins > COUNT_LIMIT
    unfiltered = staff.get(CHECKINS)
    cl = unfiltered.context["cl"]
    assert cl.result_count == COUNT_LIMIT and not cl.count_exact
    # Unfiltered: the planner's own estimate of the table (analysed), rounded to two figures.
    estimate = re.search(r"about ([\d,]+) check-ins", unfiltered.content.decode())
    assert estimate is not None
    about = int(estimate[1].replace(",", ""))
    assert abs(about - population.checkins) <= population.checkins * 0.1
    filtered = staff.get(CHECKINS, {"test_patient": "yes"})
    assert f"more than {COUNT_LIMIT:,} check-ins" in filtered.content.decode()
    assert filtered.context["cl"].paginator.num_pages == COUNT_LIMIT // 100
    # Past the pages offered: Django's own "incorrect lookup" answer, no deep OFFSET.
    assert staff.get(CHECKINS, {"p": COUNT_LIMIT // 100 + 1}).status_code == 302
    # A short list keeps its exact count, as before.
    run = staff.get(CHECKINS, {"run": str(population.backfill_run), "state": "manic"})
    assert run.context["cl"].count_exact
    assert f"{run.context['cl'].result_count} check-in" in run.content.decode()


def test_no_facet_counts_on_the_big_lists(staff, population):
    for url in (CHECKINS, PROFILES):
        page = staff.get(url, {"_facets": "1"})
        assert page.status_code == 200
        assert not page.context["cl"].add_facets
        assert "Show counts" not in page.content.decode()
    assert "Show counts" in staff.get(RUNS).content.decode()  # a table of runs may count


def test_sorting_is_offered_only_where_an_index_or_the_page_serves_it(staff, population):
    page = staff.get(CHECKINS).content.decode()
    assert re.search(r'class="sortable column-checkin_date', page)
    for column in ("patient_email", "state"):
        assert not re.search(rf'class="sortable column-{column}', page), column
    assert not re.search(r'class="sortable column-checkin_count', staff.get(PROFILES).content.decode())
    assert SyntheticRun.objects.exists()


def test_staff_without_real_patients_lists_stay_bounded(population, django_assert_max_num_queries):
    """Without ``view_real_patients`` every list holds synthetic users only — the indexed flag,
    the condition the "Test patient: Yes" link applies — and stays index-served, with the count
    capped; two more statements than a superuser's page: the staff member's permissions."""
    user = User.objects.create_user("bounded-viewer", password="pw-for-tests", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_profile", "view_checkin", "view_syntheticrun", "view_syntheticuser"]
        )
    )
    client = Client()
    client.force_login(user)
    client.get(PROFILES)
    extra = 2
    checkins = [
        CHECKINS,
        *filter_links(client, CHECKINS),
        *date_links(client, CHECKINS),
        f"{CHECKINS}?p={COUNT_LIMIT // 100}",
        f"{CHECKINS}?run={population.cycling_run}&state=depressed_mild",
    ]
    problems = _visit_all(client, checkins, MAX_QUERIES[CHECKINS] + extra, django_assert_max_num_queries)
    profiles = [link for link in filter_links(client, PROFILES) if not link.endswith("?")]
    problems += _visit_all(client, profiles, MAX_QUERIES[PROFILES] + extra, django_assert_max_num_queries)
    whole = [PROFILES, f"{PROFILES}?q=example"]
    problems += _visit_all(
        client, whole, MAX_QUERIES[PROFILES] + extra, django_assert_max_num_queries, ("check_ins",)
    )
    # The ledger leaves out the entries of users who are real by the rule: an anti-join on the
    # profiles' primary key, row by row as the page fills.
    users = [USERS, *filter_links(client, USERS), f"{USERS}?q=example"]
    problems += _visit_all(client, users, MAX_QUERIES[USERS] + extra, django_assert_max_num_queries)
    problems += _visit_all(
        client, [f"{USERS}?_facets=1"], MAX_QUERIES[USERS] + extra + 3, django_assert_max_num_queries
    )
    patient = reverse("admin:profiles_profile_change", args=[population.patient()])
    problems += seq_scans(page_visit(client, patient, 10 + extra, django_assert_max_num_queries))
    assert problems == []
    listed = client.get(CHECKINS)
    assert f"more than {COUNT_LIMIT:,} check-ins" in listed.content.decode()  # capped, not estimated
    real = set(population.real_patients)
    assert not {row.user_id for row in listed.context["cl"].result_list} & real
    page = reverse("admin:profiles_profile_change", args=[population.real_patients[0]])
    assert client.get(page).status_code == 403
