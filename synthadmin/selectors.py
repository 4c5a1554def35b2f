"""Who may be touched: the one home of "is this synthetic, is this ours?" (reads only).

Every service and the admin ask here; nothing else decides it.

* A profile is **synthetic** when ``is_test_patient`` is true; NULL and false are **real**
  (the column is nullable, as the app made it).
* A user is **ours** when synthadmin's ledger recorded creating it: a ``complete`` entry whose
  profile is synthetic, or — for a run that died between Auth and the database, where a signup
  trigger may have made an unflagged profile — a not-yet-complete entry whose Auth user carries
  our ``app_metadata`` marker naming that very run and entry (``marker_names``).
* A staff member **may see real patients** (their profiles, check-ins, pages and charts) only with
  the permission ``REAL_PATIENTS_PERMISSION``; without it, every list and page shows synthetic
  profiles only (``user_may_view_real_patients``, ``profiles_visible_q``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from profiles.models import Profile
from synthadmin.auth.base import APP_METADATA_KEY
from synthadmin.models import LIVE_STATES, SyntheticRun, SyntheticUser
from synthadmin.target import Target
from synthadmin.text import name_folded

#: The permission to see real (non-synthetic) users' data in the admin: "Synthetic data | synthetic
#: run | Can view real patients" (migration ``0012_view_real_patients``).
REAL_PATIENTS_PERMISSION = "synthadmin.view_real_patients"


def profiles_synthetic(*, among: QuerySet[Profile] | None = None) -> QuerySet[Profile]:
    """Profiles with ``is_test_patient = true``: all of them, or those of ``among``."""
    return (Profile.objects.all() if among is None else among).filter(profile_synthetic_q())


def profiles_real(*, among: QuerySet[Profile] | None = None) -> QuerySet[Profile]:
    """Profiles whose ``is_test_patient`` is false or NULL: all of them, or those of ``among``."""
    return (Profile.objects.all() if among is None else among).exclude(profile_synthetic_q())


def profile_synthetic_q(*, via: str = "") -> Q:
    """The rule as a condition on a profile, or on the profile a relation leads to
    (``via="user__"`` from a check-in); excluding it keeps the real ones, NULL included."""
    return Q(**{f"{via}is_test_patient": True})


def profile_is_synthetic(profile: Profile) -> bool:
    """The same rule for one loaded profile: NULL and false are real."""
    return profile.is_test_patient is True


def user_may_view_real_patients(user: AbstractUser | AnonymousUser) -> bool:
    """Whether ``user`` may see real users' data — profiles, check-ins, a patient's page and chart.

    With ``REAL_PATIENTS_PERMISSION`` only. Django's rule applies unchanged: an active superuser
    has every permission, this one included; an inactive user, or an anonymous one, has none.
    """
    return bool(user.has_perm(REAL_PATIENTS_PERMISSION))


def profiles_visible_q(*, user: AbstractUser | AnonymousUser, via: str = "") -> Q:
    """The profiles ``user`` may see, as a condition on a profile or on the profile a relation
    leads to (``via="user__"`` from a check-in): all of them (an empty condition, which filters
    nothing) with ``REAL_PATIENTS_PERMISSION``, else the synthetic ones only."""
    return Q() if user_may_view_real_patients(user) else profile_synthetic_q(via=via)


def profile_ids_visible_q(*, user: AbstractUser | AnonymousUser, field: str) -> Q:
    """The same rule for rows that hold a profile's id in ``field`` without a relation to it (a
    ledger entry's ``user_id``): all of them with ``REAL_PATIENTS_PERMISSION``, else those whose
    id is no real profile's (a synthetic profile's, or no profile's: a failed or purged entry).
    An anti-join on the profiles' primary key, row by row as a list pages."""
    if user_may_view_real_patients(user):
        return Q()
    return Q(~Exists(profiles_real().filter(pk=OuterRef(field))))


def entries_live(
    *, run: uuid.UUID | None = None, user_ids: Iterable[uuid.UUID] | None = None
) -> QuerySet[SyntheticUser]:
    """Ledger entries whose Auth user may exist (``complete`` or still ``intent``)."""
    entries = SyntheticUser.objects.filter(state__in=LIVE_STATES)
    if run is not None:
        entries = entries.filter(run_id=run)
    if user_ids is not None:
        entries = entries.filter(user_id__in=list(user_ids))
    return entries.order_by("id")


def users_complete(user_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Of ``user_ids``: those synthadmin created and completed (ledger ``complete``)."""
    return set(
        SyntheticUser.objects.filter(
            user_id__in=list(user_ids), state=SyntheticUser.State.COMPLETE
        ).values_list("user_id", flat=True)
    )


def marker_names(app_metadata: Mapping[str, Any], entries: Iterable[SyntheticUser]) -> bool:
    """True when an Auth user's ``app_metadata`` marker names one of ``entries`` and its run."""
    marker = app_metadata.get(APP_METADATA_KEY) or {}
    if not isinstance(marker, Mapping):
        return False
    return any(marker.get("run_id") == str(e.run_id) and marker.get("intent") == e.pk for e in entries)


def user_ids_named(search: str) -> QuerySet[SyntheticUser, uuid.UUID] | None:
    """The users synthadmin made (entries ``complete`` or ``intent``) whose displayed name has a
    word starting with each word of ``search``, accents and case aside ("aragao", "Aragão",
    "davi arag"); None when ``search`` has no word. Served by the index of ``search_name``'s
    words (``user_search_name``), never a scan of ``auth.users``."""
    words = [w for w in name_folded(search).split() if w]
    if not words:
        return None
    # Only letters and digits reach the query text (name_folded splits at anything else), so
    # the raw tsquery is ``word:* & word:*`` and nothing a user typed can change its syntax.
    query = SearchQuery(" & ".join(f"{w}:*" for w in words), search_type="raw", config="simple")
    return (
        SyntheticUser.objects.annotate(_words=SearchVector("search_name", config="simple"))
        .filter(_words=query, state__in=LIVE_STATES)
        .order_by()
        .values_list("user_id", flat=True)
    )


def therapists_matching(search: str, *, limit: int) -> list[Profile]:
    """At most ``limit`` therapists (by e-mail) that ``search`` names: their id, a part of their
    e-mail, or the start of words of their name (``user_ids_named``, synthadmin's users)."""
    therapists = Profile.objects.filter(role=Profile.Role.THERAPIST).order_by("email")
    search = search.strip()
    try:
        return list(therapists.filter(id=uuid.UUID(search))[:limit])
    except ValueError:
        pass
    found = Q(email__icontains=search) if search else Q(pk__in=[])
    named = user_ids_named(search)
    if named is not None:
        found |= Q(id__in=named)
    return list(therapists.filter(found)[:limit])


def therapist_email(target: Target) -> RawSQL | None:
    """An expression for a profile's therapist's e-mail, from whichever link the database has.

    Names come from the catalog (``Target``) and are quoted; no value is interpolated.
    """
    return _therapist_column(target, "email")


def therapist_id(target: Target) -> RawSQL | None:
    """An expression for a profile's therapist's id (as ``therapist_email``)."""
    return _therapist_column(target, "id")


def therapist_id_of(target: Target, patient: str) -> RawSQL | None:
    """An expression for the therapist's id of the patient whose id is ``patient`` (a quoted
    column of the outer query, e.g. a ledger entry's ``user_id``), through the database's link."""
    link = target.therapist_link
    if link.junction is not None:
        query = (
            f"SELECT j.{_ident(link.junction_therapist_column)} FROM {_ident(*link.junction)} j "  # noqa: S608 - quoted names
            f"WHERE j.{_ident(link.junction_patient_column)} = {patient} LIMIT 1"
        )
    elif link.column is not None:
        query = f"SELECT p.{_ident(link.column)} FROM public.profiles p WHERE p.id = {patient}"  # noqa: S608 - quoted names
    else:
        return None
    return RawSQL(query, [])  # noqa: S611 - quoted catalog names, no values


def _therapist_column(target: Target, column: str) -> RawSQL | None:
    link = target.therapist_link
    wanted = _ident(column)
    if link.junction is not None:
        query = (
            f"SELECT t.{wanted} FROM {_ident(*link.junction)} j JOIN public.profiles t "  # noqa: S608 - quoted names
            f"ON t.id = j.{_ident(link.junction_therapist_column)} "
            f'WHERE j.{_ident(link.junction_patient_column)} = "public"."profiles"."id" LIMIT 1'
        )
        return RawSQL(query, [])  # noqa: S611 - quoted catalog names, no values
    if link.column is not None:
        query = (
            f"SELECT t.{wanted} FROM public.profiles t "  # noqa: S608 - quoted names
            f'WHERE t.id = "public"."profiles".{_ident(link.column)}'
        )
        return RawSQL(query, [])  # noqa: S611 - quoted catalog names, no values
    return None


def patients_of(target: Target, therapists: Iterable[uuid.UUID]) -> Q:
    """A condition on profiles: the patients linked to one of ``therapists`` (nothing when the
    database keeps no link). Served by the link's index on the therapist where it has one."""
    ids = [str(t) for t in therapists]
    link = target.therapist_link
    if link.junction is not None:
        query = (
            f"SELECT j.{_ident(link.junction_patient_column)} FROM {_ident(*link.junction)} j "  # noqa: S608 - quoted names
            f"WHERE j.{_ident(link.junction_therapist_column)} = ANY(%s::uuid[])"
        )
        return Q(id__in=RawSQL(query, [ids]))  # noqa: S611 - quoted catalog names, values as parameters
    if link.column is not None:
        query = f"SELECT p.id FROM public.profiles p WHERE p.{_ident(link.column)} = ANY(%s::uuid[])"  # noqa: S608
        return Q(id__in=RawSQL(query, [ids]))  # noqa: S611 - quoted catalog names, values as parameters
    return Q(pk__in=[])


def _ident(*parts: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


def run_display_status(run: SyntheticRun) -> str:
    """What a run is, for people: its status, or ``purged`` once purge removed what it made."""
    return "purged" if run.purged_at is not None else str(run.status)


def runs_recent(*, status: str | None = None, limit: int = 20) -> QuerySet[SyntheticRun]:
    """The latest runs, newest first; ``status`` filters by display status (``purged`` too)."""
    runs = SyntheticRun.objects.order_by("-started_at")
    if status == "purged":
        runs = runs.filter(purged_at__isnull=False)
    elif status:
        runs = runs.filter(status=status, purged_at__isnull=True)
    return runs[:limit]
