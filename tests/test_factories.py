"""The factories: unsaved, flagged, reserved e-mails unique by construction, reproducible, per-state days."""

from __future__ import annotations

import datetime as dt
import statistics

import factory
import factory.random
import pytest

from checkins.factories import CheckInFactory, build_patient_with_history
from profiles.factories import ProfileFactory
from profiles.identities import RESERVED_EMAIL_DOMAINS, synthetic_email
from synthadmin.content import MoodState, validate_payload
from synthadmin.services.population import population_build


def _names(locale: str | None, seed: int = 3) -> list[str]:
    factory.random.reseed_random(seed)
    options = {} if locale is None else {"locale": locale}
    return [ProfileFactory.build(patient=True, **options).full_name for _ in range(20)]  # type: ignore[attr-defined]  # not a column: set by the factory


def test_profile_traits_build_unsaved_test_users():
    patient = ProfileFactory.build(patient=True)
    therapist = ProfileFactory.build(therapist=True)
    assert (patient.role, therapist.role) == ("patient", "therapist")
    assert patient.is_test_patient is True and therapist.is_test_patient is True
    assert patient._state.adding  # built, not saved: persistence is the service's job
    assert patient.username is not None and patient.email is not None
    assert patient.username == patient.username.lower() and " " not in patient.email


def test_emails_use_reserved_domains_and_are_unique_within_and_across_runs():
    _, run_a = population_build(
        seed=1, run_tag="aaaa1111", therapists=0, patients=2000, locale="pt_BR", email_domain="example.com"
    )
    _, run_b = population_build(
        seed=1, run_tag="bbbb2222", therapists=0, patients=2000, locale="pt_BR", email_domain="example.org"
    )
    emails_a = {p.email() for p in run_a}
    emails_b = {p.email() for p in run_b}
    assert len(emails_a) == 2000 and len(emails_b) == 2000  # same names repeat; e-mails never do
    assert not emails_a & emails_b
    assert all(e.rsplit("@", 1)[1] in RESERVED_EMAIL_DOMAINS for e in emails_a | emails_b)
    assert run_a[0].email(2) != run_a[0].email()
    with pytest.raises(ValueError, match="reserved domain"):
        synthetic_email(username="x", run_tag="t", number=1, domain="gmail.com")


def test_seeded_builds_are_reproducible_and_default_to_brazilian_names():
    assert _names(None) == _names(None)
    assert _names(None, seed=3) != _names(None, seed=4)
    # The default locale is pt_BR; another locale gives other names.
    assert _names("pt_BR") == _names(None)
    assert _names("en_US") != _names("pt_BR")


def test_population_names_are_identical_for_a_seed_whatever_the_run():
    a = population_build(
        seed=9, run_tag="r1", therapists=2, patients=5, locale="pt_BR", email_domain="example.com"
    )
    b = population_build(
        seed=9, run_tag="r2", therapists=2, patients=5, locale="pt_BR", email_domain="example.com"
    )
    assert [p.full_name for p in a[0] + a[1]] == [p.full_name for p in b[0] + b[1]]
    assert [p.role for p in a[0]] == ["therapist", "therapist"]


@pytest.mark.parametrize("state", list(MoodState))
def test_checkin_traits_give_valid_days_of_that_state(state):
    checkin = CheckInFactory.build(**{str(state): True})
    payload = {
        c: getattr(checkin, c)
        for c in (
            "sleep_data",
            "mood_data",
            "symptoms_data",
            "risk_routine_data",
            "appetite_impulse_data",
            "meds_context_data",
        )
    }
    validate_payload(payload)
    assert checkin.user.role == "patient" and checkin.user.is_test_patient


def test_checkin_traits_follow_the_state():
    def mean(trait: str, column: str, key: str) -> float:
        return statistics.mean(
            getattr(CheckInFactory.build(**{trait: True}, seed=s), column)[key] for s in range(60)
        )

    assert mean("manic", "sleep_data", "hoursSlept") < mean("euthymic", "sleep_data", "hoursSlept") - 1.5
    assert mean("manic", "mood_data", "elevation") > mean("euthymic", "mood_data", "elevation") + 3
    assert (
        mean("depressed_severe", "mood_data", "depressedMood")
        > mean("euthymic", "mood_data", "depressedMood") + 3
    )
    assert (
        mean("depressed_severe", "mood_data", "energyLevel")
        < mean("euthymic", "mood_data", "energyLevel") - 2
    )
    a, b = CheckInFactory.build(manic=True, seed=5), CheckInFactory.build(manic=True, seed=5)
    assert a.mood_data == b.mood_data


def test_builder_gives_a_patient_with_a_history():
    profile, checkins = build_patient_with_history(
        pattern="cycling", days=90, end_date=dt.date(2026, 3, 31), seed=12, run_tag="tag00001", number=0
    )
    assert profile.is_test_patient and profile.role == "patient" and profile._state.adding
    assert 0 < len(checkins) <= 90
    dates = [c.checkin_date for c in checkins]
    assert dates == sorted(set(dates)) and dates[-1] <= dt.date(2026, 3, 31)
    assert all(c.user is profile for c in checkins)
    for c in checkins:
        validate_payload(
            {
                k: getattr(c, k)
                for k in (
                    "sleep_data",
                    "mood_data",
                    "symptoms_data",
                    "risk_routine_data",
                    "appetite_impulse_data",
                    "meds_context_data",
                )
            }
        )
