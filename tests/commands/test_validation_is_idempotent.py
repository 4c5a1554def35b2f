"""Validation and execution share one parse: what ``generation_request_validate`` returns validates
again as itself, so a request the command accepted is never refused (or crashed on) by the service
it calls. ``--mix stable=0`` with 0 patients used to pass once, then crash."""

from __future__ import annotations

import datetime as dt
import itertools
from io import StringIO

import pytest
from django.core.management import call_command

from synthadmin.exceptions import InvalidRequestError
from synthadmin.services.requests import GenerationRequest, generation_request_validate
from tests.invariants import synthetic_counts

MIXES = [
    None,
    {"stable": 0},
    {"stable": 100},
    {"stable": 100, "cycling": 0},
    {"stable": 60, "cycling": 40},
    {"stable": 1, "cycling": 1, "rapid_cycling": 98},
    {"stable": 33, "cycling": 33, "rapid_cycling": 34},
]


def _valid(request: GenerationRequest):
    try:
        return generation_request_validate(request)
    except InvalidRequestError:  # a request the rules refuse is not part of this property
        return None


def test_validating_the_validated_parameters_gives_them_back():
    checked = 0
    for patients, therapists, mix in itertools.product(range(0, 7), range(0, 3), MIXES):
        if mix is not None and sum(mix.values()) not in (100, patients):
            continue
        request = GenerationRequest(
            patients=patients, therapists=therapists, mix=mix, seed=3, end_date=dt.date(2026, 1, 1)
        )
        params = _valid(request)
        if params is None:
            continue
        assert generation_request_validate(params) == params, request
        checked += 1
    assert checked > 50


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("supabase_tables_cleanup")
@pytest.mark.parametrize("dry_run", [True, False])
def test_mix_of_zero_with_no_patient_runs(dry_run):
    out = StringIO()
    args = ["--patients", "0", "--therapists", "1", "--mix", "stable=0", "--seed", "4"]
    call_command(
        "generate_synthetic", *args, *(["--dry-run"] if dry_run else []), stdout=out, stderr=StringIO()
    )
    assert synthetic_counts()["therapists"] == (0 if dry_run else 1)
