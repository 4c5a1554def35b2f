"""Purge settles the intents a crashed run left by asking Auth, here the in-memory gateway: an
Auth user of ours is deleted, an id nobody has is simply closed, an id someone else has is left
alone and the entry failed; a dry run asks but changes nothing. The ledger's decisions alone."""

from __future__ import annotations

import uuid

from synthadmin.auth.base import APP_METADATA_KEY, NewAuthUser
from synthadmin.auth.locmem import LocMemAuthGateway
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.purge import synthetic_users_purge


def _intent(run: SyntheticRun, n: int) -> SyntheticUser:
    return SyntheticUser.objects.create(
        run=run, user_id=uuid.uuid4(), email=f"crashed.x.{n}@example.com", role="patient"
    )


def _states(*entries: SyntheticUser) -> list[str]:
    return [SyntheticUser.objects.get(pk=entry.pk).state for entry in entries]


def test_purge_settles_each_intent_by_what_auth_says(supabase_tables_cleanup, locmem_auth):
    run = SyntheticRun.objects.create(started_by="os:tester", seed=1, auth_backend="locmem")
    auth = LocMemAuthGateway()
    ours, never, foreign = _intent(run, 1), _intent(run, 2), _intent(run, 3)
    marker = {APP_METADATA_KEY: {"synthetic": True, "run_id": str(run.id), "intent": ours.pk}}
    auth.create_user(NewAuthUser(id=ours.user_id, email=ours.email, user_metadata={}, app_metadata=marker))
    auth.create_user(
        NewAuthUser(id=foreign.user_id, email="someone@example.org", user_metadata={}, app_metadata={})
    )

    synthetic_users_purge(run=run.id, dry_run=True)
    assert _states(ours, never, foreign) == ["intent", "intent", "intent"]
    assert set(locmem_auth) == {ours.user_id, foreign.user_id}

    report = synthetic_users_purge(run=run.id)

    assert report.users_deleted == 1
    assert report.intents_resolved == 2  # the one never created, the one someone else owns
    assert _states(ours, never, foreign) == ["purged", "purged", "failed"]
    assert list(locmem_auth) == [foreign.user_id]
    assert SyntheticRun.objects.get(pk=run.id).purged_at is not None
