"""Remove synthetic users — and never anyone else.

A user is deleted only when **both** hold: synthadmin's run ledger recorded creating it, and
its profile (if it has one) carries ``is_test_patient = true``. An Auth user without a profile
(a run that crashed between the two systems) is deleted only when its ``app_metadata`` says it
was created by the very run the ledger names. Deletion goes through the Auth gateway (a hard
delete, which cascades to the profile and its check-ins), so Auth and database stay in step.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from profiles.models import Profile
from synthadmin.auth import AuthGateway, get_gateway
from synthadmin.auth.base import APP_METADATA_KEY
from synthadmin.exceptions import AuthGatewayError, AuthRejectedError
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services.reports import PurgeReport
from synthadmin.services.retrying import transient_retrying
from synthadmin.services.threads import pool_run

LIVE_STATES = (SyntheticUser.State.COMPLETE, SyntheticUser.State.INTENT)


@dataclass(frozen=True)
class _Target:
    ledger_ids: tuple[int, ...]
    user_id: uuid.UUID
    run_id: uuid.UUID
    email: str
    role: str
    has_profile: bool
    checkins: int


@dataclass
class _Result:
    target: _Target
    deleted: bool = False
    resolved: bool = False
    error: str = ""
    abort: bool = False


def synthetic_purge(
    *,
    run: uuid.UUID | None = None,
    user_ids: Iterable[uuid.UUID] | None = None,
    dry_run: bool = False,
    gateway: AuthGateway | None = None,
    stop: threading.Event | None = None,
) -> PurgeReport:
    """Delete the synthetic users of one run (``run``), of the given ``user_ids``, or of all runs.

    Writes: deletes Auth users (cascading to profiles and check-ins) and marks their ledger
    entries ``purged``; finishes intent records left by crashed runs. With ``dry_run`` it only
    reports what it would delete. Idempotent: a second call finds nothing left to do.

    Profiles that are not test patients are never deleted, whatever the arguments: they are
    listed in ``skipped_real``. Raises ConfigurationError for an unusable gateway and
    AuthRejectedError when the Auth service refuses the key (nothing more is attempted).
    """
    stop = stop or threading.Event()
    ledger = SyntheticUser.objects.filter(state__in=LIVE_STATES)
    if run is not None:
        ledger = ledger.filter(run_id=run)
    requested = None
    if user_ids is not None:
        requested = {uuid.UUID(str(u)) for u in user_ids}
        ledger = ledger.filter(user_id__in=requested)
    targets, skipped, foreign = _targets(ledger, requested)
    runs = sorted({str(t.run_id) for t in targets} | ({str(run)} if run else set()))
    if dry_run:
        return _report(True, runs, targets, resolved=len(foreign), skipped=skipped, errors=[])
    SyntheticUser.objects.filter(pk__in=foreign).update(
        state=SyntheticUser.State.FAILED,
        failure_reason="the id belongs to a user synthadmin did not create; left alone",
        updated_at=timezone.now(),
    )

    own_gateway = gateway is None
    gateway = gateway or get_gateway()
    results: list[_Result] = []
    try:
        pool_run(
            targets,
            lambda target: _purge_one(gateway, target, stop),
            workers=settings.SYNTHADMIN_AUTH_CONCURRENCY,
            stop=stop,
            on_result=lambda _t, result: results.append(result),
        )
    finally:
        if own_gateway:
            gateway.close()
    aborts = [r.error for r in results if r.abort]
    if aborts:
        raise AuthRejectedError(aborts[0])
    done = [r.target for r in results if r.deleted]
    resolved = len(foreign) + sum(1 for r in results if r.resolved)
    _mark_runs_purged(runs)
    return _report(
        False, runs, done, resolved=resolved, skipped=skipped, errors=[r.error for r in results if r.error]
    )


def _targets(ledger, requested: set[uuid.UUID] | None) -> tuple[list[_Target], list[str], list[int]]:
    """Group live ledger rows by user; drop (and name) any whose profile is not a test patient."""
    rows: dict[uuid.UUID, list[SyntheticUser]] = {}
    for entry in ledger.order_by("id"):
        rows.setdefault(entry.user_id, []).append(entry)
    profiles = {
        p.id: p
        for p in Profile.objects.filter(id__in=rows)
        .annotate(n_checkins=Count("checkins"))
        .only("id", "email", "is_test_patient")
    }
    # Deleting a therapist sets its patients' therapist_id to NULL: a synthetic therapist that
    # real patients were since assigned to stays, so that no real row ever changes.
    followed_by_real = set(
        Profile.objects.filter(therapist_id__in=rows)
        .exclude(is_test_patient=True)
        .values_list("therapist_id", flat=True)
    )
    skipped: list[str] = []
    targets: list[_Target] = []
    foreign: list[int] = []
    for user_id, entries in rows.items():
        profile = profiles.get(user_id)
        if (
            profile is not None
            and profile.is_test_patient is not True
            and all(e.state == SyntheticUser.State.INTENT for e in entries)
        ):
            # An intent whose id turned out to be a real user's (a collision): nothing of ours.
            foreign.extend(e.pk for e in entries)
            continue
        if profile is not None and (profile.is_test_patient is not True or user_id in followed_by_real):
            skipped.append(profile.email)
            continue
        last = entries[-1]
        targets.append(
            _Target(
                ledger_ids=tuple(e.pk for e in entries),
                user_id=user_id,
                run_id=last.run_id,
                email=last.email,
                role=last.role,
                has_profile=profile is not None,
                checkins=profile.n_checkins if profile is not None else 0,
            )
        )
    if requested is not None:
        # Selected users synthadmin never created: real ones are named, never touched.
        unknown = requested - set(rows)
        skipped.extend(
            Profile.objects.filter(id__in=unknown)
            .filter(~Q(is_test_patient=True))
            .values_list("email", flat=True)
        )
    return targets, sorted(skipped), foreign


def _purge_one(gateway: AuthGateway, target: _Target, stop: threading.Event) -> _Result:
    result = _Result(target=target)
    if stop.is_set():
        result.error = f"{target.email}: not attempted, purge stopped"
        return result
    retrying = transient_retrying()
    try:
        if not target.has_profile:
            # An intent whose database rows were never written: is the Auth user there, and ours?
            existing = retrying(gateway.get_user, target.user_id)
            marker = (existing.app_metadata.get(APP_METADATA_KEY) or {}) if existing else {}
            if existing is None:
                _mark(target, "intent resolved: no Auth user was left behind")
                result.resolved = True
                return result
            if marker.get("run_id") != str(target.run_id):
                _mark(
                    target,
                    "the id belongs to an Auth user this run did not create; left alone",
                    state=SyntheticUser.State.FAILED,
                )
                result.resolved = True
                return result
        retrying(gateway.delete_user, target.user_id)
    except AuthRejectedError as exc:
        stop.set()
        result.error, result.abort = str(exc), True
        return result
    except AuthGatewayError as exc:
        result.error = f"{target.email}: {exc}"
        return result
    _mark(target, "")
    result.deleted = True
    return result


def _mark(target: _Target, reason: str, *, state: str = SyntheticUser.State.PURGED) -> None:
    SyntheticUser.objects.filter(pk__in=target.ledger_ids).update(
        state=state, failure_reason=reason, updated_at=timezone.now()
    )


def _mark_runs_purged(runs: list[str]) -> None:
    for run_id in runs:
        if not SyntheticUser.objects.filter(run_id=run_id, state__in=LIVE_STATES).exists():
            SyntheticRun.objects.filter(pk=run_id, purged_at__isnull=True).update(purged_at=timezone.now())


def _report(
    dry_run: bool,
    runs: list[str],
    targets: list[_Target],
    *,
    resolved: int,
    skipped: list[str],
    errors: list[str],
) -> PurgeReport:
    roles = Counter(t.role for t in targets if t.has_profile)
    return PurgeReport(
        dry_run=dry_run,
        runs=runs,
        users_deleted=len(targets),
        patients_deleted=roles["patient"],
        therapists_deleted=roles["therapist"],
        checkins_deleted=sum(t.checkins for t in targets),
        intents_resolved=resolved,
        skipped_real=skipped,
        errors=errors,
    )
