"""The permission matrix of synthadmin's admin: every action and every custom view, the permissions
each needs, checked with a staff user holding them all (it is done) and with users holding all but
one (it is not: not offered, 403, nothing changed). Anything that purges needs the purge permission,
whatever else it does — judged by what it did (synthetic users gone, runs marked purged), not by
its name; a new action or view fails this test until it has its row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from profiles.models import Profile
from synthadmin.models import Scenario, SyntheticRun
from synthadmin.services.chunks import run_enqueue
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.invariants import synthetic_counts

pytestmark = pytest.mark.django_db(transaction=True)

#: What a permission name below grants (app label, codename).
CODENAMES = {
    "generate": ("synthadmin", "generate_synthetic_data"),
    "purge": ("synthadmin", "purge_synthetic_data"),
    "export": ("synthadmin", "export_synthetic_data"),
    "view_run": ("synthadmin", "view_syntheticrun"),
}
#: Every staff user here may see the lists the actions live on.
BASE = [("profiles", "view_profile"), ("checkins", "view_checkin"), ("synthadmin", "view_syntheticuser")]

#: (admin, action or view, name) → the permissions it needs. The row of every action and view.
MATRIX: dict[tuple[str, str, str], frozenset[str]] = {
    ("profile", "action", "delete_synthetic_users"): frozenset({"purge"}),
    ("profile", "action", "add_checkin_days"): frozenset({"generate"}),
    ("profile", "action", "extend_to_today"): frozenset({"generate"}),
    ("profile", "action", "export_patients_checkins"): frozenset({"export"}),
    ("checkin", "action", "export_checkins"): frozenset({"export"}),
    ("profile", "view", "generate"): frozenset({"generate"}),
    ("scenario", "action", "run_scenarios"): frozenset({"generate"}),
    ("scenario", "action", "reset_scenarios"): frozenset({"generate", "purge"}),
    ("scenario", "action", "delete_selected"): frozenset({"generate"}),
    ("syntheticrun", "view", "purge"): frozenset({"purge"}),
    ("syntheticrun", "view", "cancel"): frozenset({"generate"}),
    ("syntheticrun", "view", "download"): frozenset({"export"}),
    ("syntheticrun", "view", "progress"): frozenset({"view_run"}),
    ("syntheticrun", "view", "logins"): frozenset({"generate"}),
}
#: Django's own views of a ModelAdmin (each checks the model permission itself).
STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change", "autocomplete"}


def _staff(name: str, granted: frozenset[str]) -> User:
    user = User.objects.create_user(username=name, password="pw-for-tests", is_staff=True)
    wanted = BASE + [CODENAMES[g] for g in granted]
    user.user_permissions.set(
        p
        for p in Permission.objects.select_related("content_type")
        if (p.content_type.app_label, p.codename) in wanted
    )
    return User.objects.get(pk=user.pk)


@dataclass
class World:
    """What the actions and views act on: a finished run (2 patients, 1 therapist) started by
    ``user``, a scenario with an earlier run, and a queued background run."""

    user: User
    run: SyntheticRun
    scenario: Scenario
    scenario_run: SyntheticRun
    queued: SyntheticRun


def _world(user: User) -> World:
    end = timezone.localdate() - dt.timedelta(days=3)
    starter = Starter(f"staff:{user.username}", user_id=user.pk)
    report = population_generate(
        request=GenerationRequest(patients=2, therapists=1, checkin_days=3, seed=4, end_date=end),
        started_by=starter,
    )
    scenario = Scenario.objects.create(
        name="tiny", therapists=0, patients=1, checkin_days=2, seed=5, end_date=end
    )
    earlier = population_generate(
        request=GenerationRequest(patients=1, checkin_days=2, seed=5, end_date=end),
        started_by=starter,
        scenario=scenario,
    )
    queued = run_enqueue(request=GenerationRequest(patients=1, checkin_days=1, seed=6), started_by=starter)
    return World(
        user=user,
        run=SyntheticRun.objects.get(pk=report.run_id),
        scenario=scenario,
        scenario_run=SyntheticRun.objects.get(pk=earlier.run_id),
        queued=queued,
    )


def _synthetic_ids() -> set:
    return set(Profile.objects.synthetic().values_list("id", flat=True))


def _profile_action(name: str, **extra: str) -> Callable[[Client, World], bool]:
    def attempt(client: Client, world: World) -> bool:
        before = synthetic_counts()
        ids = [str(pk) for pk in Profile.objects.values_list("id", flat=True)]
        client.post(
            reverse("admin:profiles_profile_changelist"), {"action": name, ACTION_CHECKBOX_NAME: ids, **extra}
        )
        return synthetic_counts() != before

    return attempt


def _export_action(listing: str, name: str) -> Callable[[Client, World], bool]:
    """An export action's file: True when one came back (an attachment)."""

    def attempt(client: Client, world: World) -> bool:
        response = client.post(
            reverse(listing),
            {"action": name, "select_across": "1", ACTION_CHECKBOX_NAME: ["x"], "post": "yes", "fmt": "csv"},
        )
        return response.get("Content-Disposition", "").startswith("attachment")

    return attempt


def _scenario_action(name: str) -> Callable[[Client, World], bool]:
    def attempt(client: Client, world: World) -> bool:
        runs, scenarios = SyntheticRun.objects.count(), Scenario.objects.count()
        client.post(
            reverse("admin:synthadmin_scenario_changelist"),
            {"action": name, ACTION_CHECKBOX_NAME: [world.scenario.pk], "post": "yes"},
        )
        world.scenario_run.refresh_from_db()
        return (
            SyntheticRun.objects.count() != runs
            or Scenario.objects.count() != scenarios
            or world.scenario_run.purged_at is not None
        )

    return attempt


def _generate(client: Client, world: World) -> bool:
    runs = SyntheticRun.objects.count()
    client.post(
        reverse("admin:profiles_profile_generate"),
        {"patients": "1", "therapists": "0", "checkin_days": "1", "pattern": "stable", "seed": "9"},
    )
    return SyntheticRun.objects.count() != runs


def _purge(client: Client, world: World) -> bool:
    client.post(reverse("admin:synthadmin_syntheticrun_purge", args=[world.run.pk]))
    world.run.refresh_from_db()
    return world.run.purged_at is not None


def _cancel(client: Client, world: World) -> bool:
    client.post(reverse("admin:synthadmin_syntheticrun_cancel", args=[world.queued.pk]))
    world.queued.refresh_from_db()
    return world.queued.cancel_requested_at is not None


def _get(view: str) -> Callable[[Client, World], bool]:
    def attempt(client: Client, world: World) -> bool:
        args = [world.run.pk, "csv"] if view == "download" else [world.run.pk]
        return client.get(reverse(f"admin:synthadmin_syntheticrun_{view}", args=args)).status_code != 403

    return attempt


ATTEMPTS: dict[tuple[str, str, str], Callable[[Client, World], bool]] = {
    ("profile", "action", "delete_synthetic_users"): _profile_action("delete_synthetic_users", post="yes"),
    ("profile", "action", "add_checkin_days"): _profile_action(
        "add_checkin_days", apply="1", days="2", pattern="stable"
    ),
    ("profile", "action", "extend_to_today"): _profile_action("extend_to_today", post="yes"),
    ("profile", "action", "export_patients_checkins"): _export_action(
        "admin:profiles_profile_changelist", "export_patients_checkins"
    ),
    ("checkin", "action", "export_checkins"): _export_action(
        "admin:checkins_checkin_changelist", "export_checkins"
    ),
    ("profile", "view", "generate"): _generate,
    ("scenario", "action", "run_scenarios"): _scenario_action("run_scenarios"),
    ("scenario", "action", "reset_scenarios"): _scenario_action("reset_scenarios"),
    ("scenario", "action", "delete_selected"): _scenario_action("delete_selected"),
    ("syntheticrun", "view", "purge"): _purge,
    ("syntheticrun", "view", "cancel"): _cancel,
    ("syntheticrun", "view", "download"): _get("download"),
    ("syntheticrun", "view", "progress"): _get("progress"),
    ("syntheticrun", "view", "logins"): _get("logins"),
}

CASES = [
    pytest.param(entry, needed - {missing}, missing, id=f"{entry[2]}-without-{missing}")
    for entry, needed in MATRIX.items()
    for missing in sorted(needed)
]


def test_every_action_and_view_of_synthadmins_admin_has_its_row():
    superuser = User(username="root", is_superuser=True, is_staff=True)
    request = RequestFactory().get("/")
    request.user = superuser
    found = set()
    for model, model_admin in admin.site._registry.items():
        if not type(model_admin).__module__.startswith("synthadmin.admin"):
            continue
        name = model._meta.model_name
        found |= {(name, "action", action) for action in model_admin.get_actions(request)}
        prefix = f"{model._meta.app_label}_{name}_"
        for pattern in model_admin.get_urls():
            view = (pattern.name or "").removeprefix(prefix)
            if pattern.name and view not in STANDARD_VIEWS:
                found.add((name, "view", view))
    assert found == set(MATRIX)
    assert set(ATTEMPTS) == set(MATRIX)


@pytest.mark.parametrize("entry", list(MATRIX), ids=[e[2] for e in MATRIX])
def test_with_every_permission_it_needs_it_is_done_and_a_purge_needs_purge(entry, supabase_tables_cleanup):
    world = _world(_staff("holder", MATRIX[entry]))
    client = Client()
    client.force_login(world.user)
    users, runs_purged = _synthetic_ids(), set(SyntheticRun.objects.filter(purged_at__isnull=False))
    assert ATTEMPTS[entry](client, world), f"{entry} not done with {sorted(MATRIX[entry])}"
    purged = (
        bool(users - _synthetic_ids())
        or set(SyntheticRun.objects.filter(purged_at__isnull=False)) != runs_purged
    )
    if purged:
        assert "purge" in MATRIX[entry], f"{entry} purges without needing the purge permission"


@pytest.mark.parametrize(("entry", "held", "missing"), CASES)
def test_with_all_but_one_permission_it_is_refused_and_nothing_changes(
    entry, held, missing, supabase_tables_cleanup
):
    world = _world(_staff("almost", frozenset(held)))
    client = Client()
    client.force_login(world.user)
    users, counts, runs = _synthetic_ids(), synthetic_counts(), SyntheticRun.objects.count()
    assert not ATTEMPTS[entry](client, world), f"{entry} done without {missing}"
    assert (_synthetic_ids(), synthetic_counts(), SyntheticRun.objects.count()) == (users, counts, runs)


def test_a_staff_user_with_only_generate_cannot_reset(supabase_tables_cleanup):
    """The issue's case: Reset purges the scenario's earlier runs, so generate alone is not enough."""
    world = _world(_staff("generator", frozenset({"generate"})))
    client = Client()
    client.force_login(world.user)
    page = client.get(reverse("admin:synthadmin_scenario_changelist"))
    assert b"reset_scenarios" not in page.content and b"run_scenarios" in page.content
    assert not ATTEMPTS[("scenario", "action", "reset_scenarios")](client, world)
    assert world.scenario_run.purged_at is None
