"""Who a run creates: the population built (not saved) by the factories, reproducibly.

Names and e-mails come from the profile factory seeded from the run seed; check-in histories
are not built here but per patient, when that patient is written (so memory does not grow
with the size of the run).
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection

from profiles.identities import synthetic_email, synthetic_username
from profiles.models import Profile
from synthadmin import content
from synthadmin.db.encoding import server_encoding, text_fits
from synthadmin.exceptions import InvalidRequestError

if TYPE_CHECKING:
    from synthadmin.content import PatientHistory

#: The name lists of Faker's person provider the profile factory draws first and last names from.
_NAME_LISTS = tuple(
    f"{part}_names{kind}" for part in ("first", "last") for kind in ("", "_male", "_female", "_nonbinary")
)


@dataclass(frozen=True)
class PersonSpec:
    """One user to create. ``number`` is unique within the run (it is in the e-mail).

    ``username`` is what the profile and the Auth user's metadata carry: ``first.last``, or,
    where the target keeps usernames unique, ``first.last.<run tag>.<number>``; ``name_slug`` is
    the ``first.last`` the e-mail starts with.
    """

    number: int
    role: str
    username: str
    full_name: str
    run_tag: str
    email_domain: str
    name_slug: str = ""

    def email(self, attempt: int = 1) -> str:
        """The e-mail for an attempt: a fresh one after a duplicate-email collision."""
        return synthetic_email(
            username=self.name_slug or self.username,
            run_tag=self.run_tag,
            number=self.number,
            domain=self.email_domain,
            attempt=attempt,
        )


def population_build(
    *,
    seed: int,
    run_tag: str,
    therapists: int,
    patients: int,
    locale: str,
    email_domain: str,
    unique_usernames: bool = False,
) -> tuple[list[PersonSpec], list[PersonSpec]]:
    """(therapists, patients) for a run, identical for the same seed whatever the run tag (names,
    roles; with ``unique_usernames`` — ``Target.unique_usernames`` — each username also carries
    the run tag and the person's number, as the e-mail does)."""
    import factory.random  # factory_boy and Faker: loaded only by a process that builds people

    from profiles.factories import ProfileFactory

    factory.random.reseed_random(seed)
    people = [
        _spec(
            ProfileFactory.build(
                therapist=index < therapists,
                patient=index >= therapists,
                locale=locale,
                run_tag=run_tag,
                number=index,
                email_domain=email_domain,
            ),
            number=index,
            run_tag=run_tag,
            email_domain=email_domain,
            unique_username=unique_usernames,
        )
        for index in range(therapists + patients)
    ]
    return people[:therapists], people[therapists:]


def _spec(
    profile: Profile, *, number: int, run_tag: str, email_domain: str, unique_username: bool
) -> PersonSpec:
    name = profile.username or ""
    return PersonSpec(
        number=number,
        role=profile.role,
        username=synthetic_username(name=name, run_tag=run_tag, number=number) if unique_username else name,
        full_name=profile.full_name,  # type: ignore[attr-defined]  # set by ProfileFactory.build
        run_tag=run_tag,
        email_domain=email_domain,
        name_slug=name,
    )


def population_names_check(*, locale: str) -> None:
    """Refuse, before anything is written, a ``locale`` whose names the database cannot hold.

    Names go into every Auth user's metadata; a ``LATIN1`` database refuses ``Иван`` (SQLSTATE
    22P05) — every user would fail, one after the other. Judged on the locale's whole name
    vocabulary (what the factory draws from), so the answer does not depend on the seed.
    Raises InvalidRequestError (field ``locale``) naming the encoding and one such name.
    """
    encoding = server_encoding(connection)
    unfit = next((name for name in _locale_names(locale) if not text_fits(name, encoding)), None)
    if unfit is not None:
        raise InvalidRequestError(
            f"this database's encoding, {encoding}, cannot hold the names of locale {locale} "
            f"(such as {unfit!r}); choose a locale whose names it holds (pt_BR, en_US, es_ES...) "
            "or a UTF8 database",
            field="locale",
        )


@functools.cache
def _locale_names(locale: str) -> tuple[str, ...]:
    import faker

    person = next(p for p in faker.Faker(locale).providers if p.__provider__ == "faker.providers.person")
    return tuple(sorted({name for attr in _NAME_LISTS for name in getattr(person, attr, None) or ()}))


def patient_history(
    *, seed: int, patient_index: int, pattern: str, days: int, end_date: dt.date, adherence: float
) -> PatientHistory:
    """The check-in history of the ``patient_index``-th patient of a run (pure, reproducible)."""
    return content.build_history(
        pattern=pattern,
        end_date=end_date,
        days=days,
        seed=content.patient_seed(seed, patient_index),
        adherence=adherence,
    )


def therapist_assignment(patients: int, therapist_ids: list[uuid.UUID]) -> Iterator[uuid.UUID | None]:
    """Round-robin over the run's own therapists (never anyone else's): caseloads differ by at
    most one; no therapists in the run, no therapist."""
    for index in range(patients):
        yield therapist_ids[index % len(therapist_ids)] if therapist_ids else None


def mix_counts(mix: dict[str, int], patients: int) -> dict[str, int]:
    """Exact patient counts per pattern for a ``mix``, summing to ``patients``.

    ``mix`` maps pattern → weight. Weights that already sum to ``patients`` are counts; any
    other weights are proportions (percentages, or any ratio), turned into counts by the
    largest-remainder (Hamilton) method — ties broken by the order of ``mix`` — so the counts
    are exact and the same for the same mix, never random draws.
    """
    total = sum(mix.values())
    if total == patients:
        return dict(mix)
    quotas = {pattern: patients * weight / total for pattern, weight in mix.items()}
    counts = {pattern: int(quota) for pattern, quota in quotas.items()}
    order = list(mix)
    by_remainder = sorted(order, key=lambda p: (-(quotas[p] - counts[p]), order.index(p)))
    for pattern in by_remainder[: patients - sum(counts.values())]:
        counts[pattern] += 1
    return counts


def patient_patterns(counts: dict[str, int]) -> list[str]:
    """The pattern of each patient of a run, by index: each pattern's patients in one block.

    With ``therapist_assignment``'s round-robin over the same indices, every therapist gets
    each pattern's patients within one of an even share (a block of ``c`` patients dealt
    round-robin to ``t`` therapists gives each ``c // t`` or ``c // t + 1``).
    """
    return [pattern for pattern, count in counts.items() for _ in range(count)]
