"""The admin's links and redirects stay on the site that draws them: on a second site (another
name, another URL) the run page, its confirmation pages and its redirects lead to that site's
pages, never to the default site's (no hard-coded admin namespace)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import path

from checkins.models import CheckIn
from profiles.models import Profile
from synthadmin.admin.checkins import CheckInAdmin
from synthadmin.admin.profiles import ProfileAdmin
from synthadmin.admin.runs import SyntheticRunAdmin, SyntheticUserAdmin
from synthadmin.admin.scenarios import ScenarioAdmin
from synthadmin.apps import SynthadminSite
from synthadmin.models import Scenario, SyntheticRun, SyntheticUser

other = SynthadminSite(name="other")
other.register(Profile, ProfileAdmin)
other.register(CheckIn, CheckInAdmin)
other.register(SyntheticRun, SyntheticRunAdmin)
other.register(SyntheticUser, SyntheticUserAdmin)
other.register(Scenario, ScenarioAdmin)

urlpatterns = [path("admin/", admin.site.urls), path("other/", other.urls)]

pytestmark = pytest.mark.urls(__name__)


def _run() -> SyntheticRun:
    return SyntheticRun.objects.create(started_by="os:test", seed=1, auth_backend="local", status="succeeded")


def test_the_run_page_links_to_the_users_and_profiles_of_its_own_site(admin_client):
    run = _run()
    page = admin_client.get(f"/other/synthadmin/syntheticrun/{run.pk}/change/").content.decode()
    assert f'href="/other/synthadmin/syntheticuser/?run__id__exact={run.pk}"' in page
    assert f'href="/other/profiles/profile/?run={run.pk}"' in page
    assert f'href="/other/synthadmin/syntheticrun/{run.pk}/purge/"' in page


def test_a_confirmation_page_leads_back_within_its_site(admin_client):
    run = _run()
    purge = admin_client.get(f"/other/synthadmin/syntheticrun/{run.pk}/purge/")
    assert purge.status_code == 200
    assert f'href="/other/synthadmin/syntheticrun/{run.pk}/change/"' in purge.content.decode()
    generate = admin_client.get("/other/profiles/profile/generate/")
    assert generate.status_code == 200 and 'href="/other/"' in generate.content.decode()


def test_redirects_stay_on_the_site(admin_client):
    run = _run()
    cancelled = admin_client.post(f"/other/synthadmin/syntheticrun/{run.pk}/cancel/")
    assert cancelled.status_code == 302
    assert cancelled["Location"] == f"/other/synthadmin/syntheticrun/{run.pk}/change/"
