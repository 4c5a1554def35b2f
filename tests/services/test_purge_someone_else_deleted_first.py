"""A user whose Auth user someone else deleted after the purge decided to delete it (a
concurrent purge, a person in the Supabase dashboard) is settled, not reported.

The purge's own delete finds it gone: its ledger entry is marked ``purged``, it is counted as
deleted by neither, and the report names no error for it — no "not attempted: purge stopped"
for a user that is gone. (Found in CI: a purge after a killed one met a delete the killed
process had in flight, and reported that user as not attempted.) Both Auth paths: the Supabase
one (a delete per user, answered 404) and the local one (a batch's delete, which did not find it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from typing import cast

import pytest
from django.db import connection

from synthadmin.auth.local import LocalAuthGateway
from synthadmin.auth.supabase import SupabaseAuthGateway
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants, synthetic_counts
from tests.realdata import snapshot_real_rows

NOTHING = {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}


def _generate(gateway=None):
    request = GenerationRequest(patients=4, checkin_days=3, seed=8, end_date=dt.date(2026, 6, 30))
    report = population_generate(request=request, started_by=Starter("os:tester"), gateway=gateway)
    assert report.status == "succeeded"
    return report.run_id


def _first_patient(run_id) -> uuid.UUID:
    return SyntheticUser.objects.filter(run_id=run_id).order_by("email").values_list("user_id", flat=True)[0]


class _SupabaseRaced(SupabaseAuthGateway):
    """The real gateway, with someone else deleting ``target`` just before our delete of it."""

    target: uuid.UUID

    def delete_user(self, user_id: uuid.UUID, *, cancellable: bool = True) -> bool:
        if user_id == self.target:
            assert super().delete_user(user_id, cancellable=cancellable)  # the other one's delete
        return super().delete_user(user_id, cancellable=cancellable)


class _LocalRaced(LocalAuthGateway):
    """The local gateway, with ``target``'s ``auth.users`` row deleted just before the batch's."""

    target: uuid.UUID

    def delete_users(self, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        if self.target in user_ids:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM auth.users WHERE id = %s", [self.target])
        return super().delete_users(user_ids)


def _assert_settled_not_reported(report, run_id, real) -> None:
    assert report.errors == report.blocked == report.left_alone == []
    assert report.users_deleted == 3  # the one someone else deleted is counted by neither
    assert synthetic_counts() == NOTHING
    assert set(SyntheticUser.objects.filter(run_id=run_id).values_list("state", flat=True)) == {"purged"}
    assert SyntheticRun.objects.get(pk=run_id).purged_at is not None
    assert snapshot_real_rows() == real
    assert_invariants(real)


@pytest.mark.django_db(transaction=True)
def test_supabase_a_user_deleted_by_someone_else_first_is_settled(real_population, auth_server):
    gateway = _SupabaseRaced(url=auth_server.url, key=auth_server.service_role_key, timeout=5)
    try:
        run_id = _generate(gateway)
        gateway.target = _first_patient(run_id)
        report = synthetic_users_purge(run=run_id, gateway=gateway)
    finally:
        gateway.close()
    _assert_settled_not_reported(report, run_id, real_population)


@pytest.mark.django_db(transaction=True)
def test_local_a_user_deleted_by_someone_else_first_is_settled(real_population):
    run_id = _generate()
    gateway = cast(_LocalRaced, _LocalRaced.from_settings())
    gateway.target = _first_patient(run_id)
    report = synthetic_users_purge(run=run_id, gateway=gateway)
    _assert_settled_not_reported(report, run_id, real_population)
