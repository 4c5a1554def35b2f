"""Ground truth is stored with each synthetic patient and agrees with the check-ins it produced."""

from __future__ import annotations

import datetime as dt
import statistics

from checkins.models import CheckIn
from synthadmin.models import SyntheticUser
from synthadmin.services.generation import population_generate
from synthadmin.services.ground_truth import state_by_day
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest

END = dt.date(2026, 6, 30)


def test_ground_truth_covers_the_window_and_matches_the_payloads(supabase_tables_cleanup):
    population_generate(
        request=GenerationRequest(
            patients=6, therapists=1, checkin_days=365, pattern="cycling", seed=12, end_date=END
        ),
        started_by=Starter("os:tester"),
    )
    therapist = SyntheticUser.objects.get(role="therapist")
    assert therapist.ground_truth == {}
    seen = set()
    for entry in SyntheticUser.objects.filter(role="patient"):
        truth = entry.ground_truth
        assert truth["pattern"] == "cycling" and truth["end"] == END.isoformat()
        days = state_by_day(truth)
        assert len(days) == 365 and max(days) == END and min(days) == END - dt.timedelta(days=364)
        by_state: dict[str, list[dict]] = {}
        for checkin in CheckIn.objects.filter(user_id=entry.user_id):
            state = days[checkin.checkin_date]  # every check-in day has a stored state
            by_state.setdefault(state, []).append({**checkin.mood_data, **checkin.sleep_data})
        seen |= set(by_state)
        euthymic = by_state["euthymic"]
        for state in ("manic", "hypomanic"):
            if len(by_state.get(state, [])) >= 3:
                rows = by_state[state]
                assert _mean(rows, "elevation") > _mean(euthymic, "elevation")
                assert _mean(rows, "hoursSlept") < _mean(euthymic, "hoursSlept")
        for state in ("depressed_mild", "depressed_severe"):
            if len(by_state.get(state, [])) >= 3:
                assert _mean(by_state[state], "energyLevel") < _mean(euthymic, "energyLevel")
        assert {e["state"] for e in truth["episodes"]} <= {s for s, _, _ in truth["states"]} | {"euthymic"}
    assert {"euthymic", "hypomanic"} <= seen and seen & {"depressed_mild", "depressed_severe"}


def _mean(rows: list[dict], key: str) -> float:
    return statistics.fmean(float(r[key]) for r in rows)
