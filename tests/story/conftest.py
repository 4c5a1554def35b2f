"""Synthetic patients made through the service, and staff who may only look."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User

from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest

END = dt.date(2026, 6, 30)


def generate(
    *, patients: int = 1, therapists: int = 0, days: int = 120, pattern: str = "cycling", seed: int = 5
):
    """Run the generation service; returns the run report."""
    return population_generate(
        request=GenerationRequest(
            patients=patients,
            therapists=therapists,
            checkin_days=days,
            pattern=pattern,
            seed=seed,
            end_date=END,
        ),
        started_by=Starter("os:tester"),
    )


def staff_with(*codenames: str) -> User:
    user = User.objects.create_user(username="_".join(codenames) or "nobody", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def viewer(transactional_db):
    """Staff with view permissions only."""
    return staff_with("view_profile", "view_checkin", "view_syntheticrun", "view_syntheticuser")
