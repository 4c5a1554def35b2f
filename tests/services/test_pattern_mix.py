"""A pattern mix in one run: exact counts per pattern and per therapist (caseloads within one,
each caseload mixed in the same proportions within one), every patient's pattern recorded, and
each pattern's patients as clinically shaped as a single-pattern run's."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pytest

from synthadmin.content import MoodState, get_pattern
from synthadmin.content.states import STATE_BY_CODE
from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import SyntheticUser
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.population import mix_counts, patient_history, patient_patterns
from synthadmin.services.requests import GenerationRequest, generation_request_validate, mix_parse
from tests.invariants import assert_invariants, therapist_links

END = dt.date(2026, 6, 30)


def test_percentages_become_exact_counts_by_largest_remainder():
    assert mix_counts({"stable": 60, "cycling": 25, "depressive": 10, "rapid_cycling": 5}, 7) == {
        "stable": 4,
        "cycling": 2,
        "depressive": 1,
        "rapid_cycling": 0,
    }
    assert mix_counts({"stable": 2, "manic": 1}, 3) == {"stable": 2, "manic": 1}  # counts stay counts
    assert sum(mix_counts({"stable": 33, "cycling": 33, "manic": 34}, 1000).values()) == 1000


@pytest.mark.parametrize(
    ("text", "patients", "words"),
    [
        ("stable=60,zigzag=40", 10, "unknown pattern 'zigzag'"),
        ("stable=60,cycling=30", 10, "add up to 90"),
        ("stable=6O", 10, "whole number"),
        ("stable", 10, "pattern=weight"),
        ("stable=50,stable=50", 10, "appears twice"),
    ],
)
def test_bad_mixes_are_refused_in_one_line(text, patients, words):
    with pytest.raises(InvalidRequestError, match=words) as info:
        generation_request_validate(GenerationRequest(patients=patients, mix=mix_parse(text)))
    assert info.value.field == "mix" and "\n" not in str(info.value)


def test_a_mixed_run_gives_exact_counts_and_mixed_caseloads(real_population):
    mix = {"stable": 60, "cycling": 25, "depressive": 10, "rapid_cycling": 5}
    report = population_generate(
        request=GenerationRequest(patients=40, therapists=3, checkin_days=5, seed=9, end_date=END, mix=mix),
        started_by=Starter("os:tester"),
    )
    assert report.status == "succeeded"
    assert report.patients_by_pattern == {"cycling": 10, "depressive": 4, "rapid_cycling": 2, "stable": 24}
    assert report.parameters["mix"] == {"stable": 24, "cycling": 10, "depressive": 4, "rapid_cycling": 2}
    pattern_of = {
        e.user_id: e.ground_truth["pattern"]
        for e in SyntheticUser.objects.filter(role="patient", state="complete")
    }
    assert Counter(pattern_of.values()) == report.patients_by_pattern
    caseloads: dict = {}
    for patient, therapist in therapist_links().items():
        if patient in pattern_of:
            caseloads.setdefault(therapist, Counter())[pattern_of[patient]] += 1
    assert len(caseloads) == 3
    sizes = [sum(c.values()) for c in caseloads.values()]
    assert max(sizes) - min(sizes) <= 1
    for pattern, count in report.patients_by_pattern.items():
        per_therapist = [c[pattern] for c in caseloads.values()]
        assert max(per_therapist) - min(per_therapist) <= 1 and sum(per_therapist) == count
    assert_invariants(real_population)


def test_each_patterns_patients_keep_their_patterns_state_shares():
    # 600 patients mixed 50/50: each half must match its pattern's targets within the tolerance
    # the single-pattern test uses (5 points).
    params = generation_request_validate(
        GenerationRequest(
            patients=600, checkin_days=365, seed=303, end_date=END, mix={"cycling": 50, "depressive": 50}
        )
    )
    codes: dict[str, list[np.ndarray]] = {}
    for index, pattern in enumerate(params.patient_patterns()):
        history = patient_history(
            seed=params.seed, patient_index=index, pattern=pattern, days=365, end_date=END, adherence=0.85
        )
        codes.setdefault(pattern, []).append(history.daily_states)
    assert patient_patterns(params.mix or {}) == params.patient_patterns()
    for pattern, arrays in codes.items():
        counts = np.bincount(np.concatenate(arrays), minlength=len(STATE_BY_CODE))
        target = get_pattern(pattern).target_shares
        for index, state in enumerate(STATE_BY_CODE):
            assert abs(counts[index] / counts.sum() - target[MoodState(state)]) <= 0.05, (pattern, state)
