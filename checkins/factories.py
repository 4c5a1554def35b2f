"""factory_boy factories for check-ins: one day in a given mood state, or a whole history.

Like the profile factory they *build* unsaved objects; the service writes histories in bulk
with COPY. Payloads come from the content engine (``synthadmin.content``), so a factory-built
check-in obeys the same contract and the same state correlations as a generated history.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import factory

from checkins.models import PAYLOAD_COLUMNS, CheckIn
from profiles.factories import ProfileFactory
from profiles.models import Profile
from synthadmin.content import MoodState, build_history, patient_seed

#: Dates of factory-built single check-ins start here (never the clock: builds are reproducible).
FIRST_DATE = dt.date(2026, 1, 1)


@lru_cache(maxsize=4096)
def day_payload(state: str, seed: int) -> dict[str, dict[str, Any]]:
    """One day's payload in ``state``: the engine's state profile plus that day's noise.

    Drawn from the engine's independent-days model (every state equally likely each day), taking
    the first day in ``state``; the same (state, seed) always gives the same payload.
    """
    wanted = MoodState(state)
    for attempt in range(100):
        history = build_history(
            pattern="random", end_date=FIRST_DATE, days=60, seed=patient_seed(seed, attempt), adherence=1.0
        )
        for (_, payload), day_state in zip(history.iter_payloads(), history.checkin_states(), strict=True):
            if day_state == wanted:
                return payload
    raise RuntimeError(f"no {state} day drawn for seed {seed}")  # (5/6)**6000: never


class CheckInFactory(factory.django.DjangoModelFactory[CheckIn]):
    """A check-in. Traits name the mood state: ``CheckInFactory.build(manic=True)``."""

    class Meta:
        model = CheckIn

    class Params:
        state = MoodState.EUTHYMIC
        seed = factory.Sequence(lambda n: n)
        payload = factory.LazyAttribute(lambda o: day_payload(str(o.state), o.seed))
        euthymic = factory.Trait(state=MoodState.EUTHYMIC)
        depressed_mild = factory.Trait(state=MoodState.DEPRESSED_MILD)
        depressed_severe = factory.Trait(state=MoodState.DEPRESSED_SEVERE)
        hypomanic = factory.Trait(state=MoodState.HYPOMANIC)
        manic = factory.Trait(state=MoodState.MANIC)
        mixed = factory.Trait(state=MoodState.MIXED)

    user = factory.SubFactory(ProfileFactory, patient=True)
    checkin_date = factory.Sequence(lambda n: FIRST_DATE + dt.timedelta(days=n))
    sleep_data = factory.LazyAttribute(lambda o: o.payload["sleep_data"])
    mood_data = factory.LazyAttribute(lambda o: o.payload["mood_data"])
    symptoms_data = factory.LazyAttribute(lambda o: o.payload["symptoms_data"])
    risk_routine_data = factory.LazyAttribute(lambda o: o.payload["risk_routine_data"])
    appetite_impulse_data = factory.LazyAttribute(lambda o: o.payload["appetite_impulse_data"])
    meds_context_data = factory.LazyAttribute(lambda o: o.payload["meds_context_data"])


def build_patient_with_history(
    *,
    pattern: str,
    days: int,
    end_date: dt.date,
    seed: int,
    index: int = 0,
    adherence: float | None = None,
    **profile_fields: Any,
) -> tuple[Profile, list[CheckIn]]:
    """An unsaved synthetic patient and its unsaved check-ins over ``days`` days of ``pattern``.

    The history is the one the service would write for the ``index``-th patient of a run with
    this ``seed``. ``profile_fields`` go to ``ProfileFactory`` (e.g. ``run_tag``, ``number``).
    """
    profile = ProfileFactory.build(patient=True, **profile_fields)
    options = {} if adherence is None else {"adherence": adherence}
    history = build_history(
        pattern=pattern, end_date=end_date, days=days, seed=patient_seed(seed, index), **options
    )
    checkins = [
        CheckIn(user=profile, checkin_date=day, **{column: payload[column] for column in PAYLOAD_COLUMNS})
        for day, payload in history.iter_payloads()
    ]
    return profile, checkins
