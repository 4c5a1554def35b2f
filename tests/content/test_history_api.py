"""PatientHistory: lengths, states per day and per check-in, episodes, immutability."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest

from synthadmin.content import MoodState, build_history
from synthadmin.content.states import STATE_BY_CODE

END = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def history():  # type: ignore[no-untyped-def]
    return build_history(pattern="cycling", end_date=END, days=400, seed=77)


def test_lengths_agree(history) -> None:  # type: ignore[no-untyped-def]
    assert history.days == 400
    assert history.start_date == END - dt.timedelta(days=399)
    assert len(history) == len(history.checkin_dates) == len(list(history.iter_payloads()))
    assert len(history) == len(list(history.iter_json_rows())) == len(history.values)
    assert 0 < len(history) < history.days


def test_state_on_every_day(history) -> None:  # type: ignore[no-untyped-def]
    for offset in range(history.days):
        day = history.start_date + dt.timedelta(days=offset)
        assert history.state_on(day) is STATE_BY_CODE[history.daily_states[offset]]
    with pytest.raises(ValueError, match="outside"):
        history.state_on(END + dt.timedelta(days=1))
    with pytest.raises(ValueError, match="outside"):
        history.state_on(history.start_date - dt.timedelta(days=1))


def test_checkin_states_align_with_dates(history) -> None:  # type: ignore[no-untyped-def]
    states = history.checkin_states()
    assert len(states) == len(history)
    assert all(isinstance(s, MoodState) for s in states)
    assert states == tuple(history.state_on(d) for d in history.checkin_dates)


def test_state_shares(history) -> None:  # type: ignore[no-untyped-def]
    for checkins_only in (False, True):
        shares = history.state_shares(checkins_only=checkins_only)
        assert set(shares) == set(MoodState)
        assert abs(sum(shares.values()) - 1.0) < 1e-9


def test_episodes_unpack_as_triples(history) -> None:  # type: ignore[no-untyped-def]
    total = 0
    for state, start, end in history.episodes():
        assert isinstance(state, MoodState)
        assert start <= end
        total += (end - start).days + 1
    assert total == history.days
    assert [r.days for r in history.episodes()] == [s.days for s in history.episode_spans()]


def test_field_values(history) -> None:  # type: ignore[no-untyped-def]
    sleep = history.field_values("hoursSlept")
    assert sleep.dtype.kind == "f" and len(sleep) == len(history)
    first = next(history.iter_payloads())[1]
    assert sleep[0] == first["sleep_data"]["hoursSlept"]
    assert history.field_values("tasksPlanned").dtype.kind == "i"
    with pytest.raises(KeyError):
        history.field_values("nope")


def test_history_is_immutable(history) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(dataclasses.FrozenInstanceError):
        history.pattern = "stable"
    for array in (history.values, history.daily_states, history.checkin_offsets):
        assert not array.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0
    assert isinstance(history.checkin_dates, tuple)


def test_repr_is_short(history) -> None:  # type: ignore[no-untyped-def]
    text = repr(history)
    assert "cycling" in text and len(text) < 200
    assert isinstance(history.daily_states, np.ndarray)
