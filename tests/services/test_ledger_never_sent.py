"""A user a stop kept from being sent is a ledger fact (``never_sent``), not words in a message:
the attempt is recorded by ``ledger.entry_not_sent``, ``run_counts`` does not count it as a
failure, and migration 0009 backfilled it from the rule it replaces."""

from __future__ import annotations

import importlib
import threading
import uuid

import pytest
from django.apps import apps
from django.conf import settings

from synthadmin.exceptions import AuthCancelledError
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services import ledger
from synthadmin.services.jobs import patient_jobs
from synthadmin.services.population import population_build
from synthadmin.services.reports import NullProgress
from synthadmin.services.requests import GenerationRequest, generation_request_validate
from synthadmin.services.user_creation import UserCreation
from synthadmin.target import target_get

pytestmark = pytest.mark.django_db


def _run() -> SyntheticRun:
    return ledger.run_start(
        kind=SyntheticRun.Kind.GENERATE,
        started_by=ledger.Starter("os:test"),
        parameters={},
        seed=1,
        auth_backend="x",
    )


class _StoppedGateway:
    """Every create ends as a stop ends it before anything is sent."""

    name = "stopped"

    def create_user(self, user: object) -> object:
        raise AuthCancelledError("stopped while waiting to call Supabase Auth", user_may_exist=False)

    def delete_user(self, user_id: uuid.UUID, *, cancellable: bool = True) -> bool:
        raise AssertionError("nothing was created: nothing to compensate")


@pytest.mark.django_db(transaction=True)  # the users are created on the pool's own connections
def test_an_attempt_a_stop_ended_is_never_sent_and_no_failure(supabase_tables_cleanup):
    run = _run()
    params = generation_request_validate(GenerationRequest(patients=2, checkin_days=0, seed=3))
    _therapists, patients = population_build(
        seed=3,
        run_tag=run.tag,
        therapists=0,
        patients=2,
        locale="pt_BR",
        email_domain=settings.SYNTHADMIN_EMAIL_DOMAIN,
    )
    creation = UserCreation(
        run=run,
        target=target_get(refresh=True),
        params=params,
        gateway=_StoppedGateway(),  # type: ignore[arg-type]
        progress=NullProgress(),
        credentials=None,
        stop=threading.Event(),
    )
    outcomes = creation.users_create(patient_jobs(params, patients, []))
    assert [o.user_id for o in outcomes] == [None, None] and creation.failures == []
    entries = SyntheticUser.objects.filter(run=run)
    assert {(e.state, e.never_sent) for e in entries} == {(SyntheticUser.State.FAILED, True)}
    counts = ledger.run_counts(run)
    assert (counts.created, counts.failed) == (0, 0)


def test_a_failed_attempt_that_was_sent_is_a_failure():
    run = _run()
    tried = ledger.entry_intent(
        run=run, user_id=uuid.uuid4(), email="a@example.com", role="patient", attempt=1, job_index=0
    )
    ledger.entry_failed([tried.pk], "Supabase Auth refused the key")
    stopped = ledger.entry_intent(
        run=run, user_id=uuid.uuid4(), email="b@example.com", role="patient", attempt=1, job_index=1
    )
    ledger.entry_not_sent(stopped.pk, "stopped before trying to create user")
    counts = ledger.run_counts(run)
    assert (counts.failed, counts.first_failure) == (1, "Supabase Auth refused the key")


def test_the_migration_backfills_never_sent_from_the_old_rule():
    run = _run()

    def entry(state: str, reason: str) -> SyntheticUser:
        return SyntheticUser.objects.create(
            run=run,
            user_id=uuid.uuid4(),
            email="x@example.com",
            role="patient",
            state=state,
            failure_reason=reason,
        )

    stopped = entry("failed", "stopped while waiting to call Supabase Auth")
    entry("failed", "stopped: the Auth service stayed unavailable")  # a diagnosis, not a stop
    entry("failed", "Supabase Auth refused the key")
    entry("intent", "stopped while creating user 1: it may have been created; purge resolves it")
    migration = importlib.import_module("synthadmin.migrations.0009_ledger_never_sent")
    migration.never_sent_backfill(apps, None)
    assert list(SyntheticUser.objects.filter(never_sent=True)) == [stopped]
