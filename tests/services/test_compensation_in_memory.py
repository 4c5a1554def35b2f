"""Compensation between the two systems, with the in-memory Auth gateway: when the database
refuses a user's rows after its Auth user was made, the Auth user is deleted again and the ledger
says ``compensated``; when that delete fails too, the intent stays and purge settles it.

The refusal is PostgreSQL's own: the in-memory gateway writes no ``auth.users`` row, so the
foreign key on ``profiles.id`` refuses every profile written for one of its users."""

from __future__ import annotations

import datetime as dt

from synthadmin.auth.locmem import LocMemAuthGateway
from synthadmin.exceptions import AuthUnavailableError
from synthadmin.models import SyntheticUser
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants, synthetic_counts

END = dt.date(2026, 6, 30)
NOTHING = {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}


def _run(**kwargs):
    request = GenerationRequest(
        **{"seed": 41, "end_date": END, "checkin_days": 5, "concurrency": 1, **kwargs}
    )
    return population_generate(request=request, started_by=Starter("os:tester"))


def test_a_refused_row_write_deletes_the_auth_user_again(real_population, locmem_auth):
    report = _run(patients=2)

    assert report.status == "failed"
    assert report.patients_created == 0 and len(report.failures) == 2
    assert all("Auth user deleted again" in failure.reason for failure in report.failures)
    assert all("profiles_id_fkey" in failure.reason for failure in report.failures)
    assert list(SyntheticUser.objects.values_list("state", flat=True)) == ["compensated", "compensated"]
    assert locmem_auth == {}  # every Auth user made was deleted again
    assert synthetic_counts() == NOTHING
    assert_invariants(real_population)


def test_a_failed_compensation_keeps_the_intent_and_purge_settles_it(
    real_population, locmem_auth, fast_retries, monkeypatch
):
    def unavailable(self, user_id, *, cancellable=True):
        raise AuthUnavailableError("Auth went away", user_may_exist=False)

    with monkeypatch.context() as patched:
        patched.setattr(LocMemAuthGateway, "delete_user", unavailable)
        report = _run(patients=1)

    (entry,) = SyntheticUser.objects.all()
    assert report.patients_created == 0 and len(report.failures) == 1
    assert entry.state == "intent"
    assert "deleting the Auth user also failed" in entry.failure_reason
    assert list(locmem_auth) == [entry.user_id]  # left behind, and the ledger knows it

    purged = synthetic_users_purge(run=report.run_id)

    assert purged.users_deleted == 1
    assert locmem_auth == {}
    assert SyntheticUser.objects.get(pk=entry.pk).state == "purged"
    assert synthetic_counts() == NOTHING
    assert_invariants(real_population)
