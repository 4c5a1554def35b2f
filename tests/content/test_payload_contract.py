"""Every generated payload satisfies the app's JSONB contract; the JSON path equals the dicts.

200 patients x 365 days per pattern, as the lead asked: validate_payload on every dict from
iter_payloads, and iter_json_rows parsed with json.loads equal to those dicts.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from synthadmin.content import (
    FIELDS,
    PATTERN_NAMES,
    PAYLOAD_COLUMNS,
    build_history,
    patient_seed,
    validate_payload,
)

END = dt.date(2025, 6, 30)
RUN_SEED = 101
PATIENTS = 200
DAYS = 365
FLOAT_KEYS = {f.key for f in FIELDS if f.kind == "tenths"}


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
def test_every_payload_validates_and_json_rows_match(pattern: str) -> None:
    rows_seen = 0
    for index in range(PATIENTS):
        history = build_history(pattern=pattern, end_date=END, days=DAYS, seed=patient_seed(RUN_SEED, index))
        payloads = list(history.iter_payloads())
        json_rows = list(history.iter_json_rows())
        assert len(payloads) == len(json_rows) == len(history)
        assert [d for d, _ in payloads] == [r[0] for r in json_rows] == list(history.checkin_dates)
        for _, payload in payloads:
            validate_payload(payload)
        # One json.loads for the whole patient keeps this test fast; equality is exact.
        parsed = json.loads("[" + ",".join(s for row in json_rows for s in row[1:]) + "]")
        assert parsed == [payload[c] for _, payload in payloads for c in PAYLOAD_COLUMNS]
        rows_seen += len(payloads)
    assert rows_seen > PATIENTS * DAYS * 0.8


@pytest.mark.parametrize("pattern", PATTERN_NAMES)
def test_python_types_and_key_order(pattern: str) -> None:
    history = build_history(pattern=pattern, end_date=END, days=120, seed=7)
    for (_, payload), row in zip(history.iter_payloads(), history.iter_json_rows(), strict=True):
        assert list(payload) == list(PAYLOAD_COLUMNS)
        for column, text in zip(PAYLOAD_COLUMNS, row[1:], strict=True):
            values = payload[column]
            assert list(values) == [f.key for f in FIELDS if f.column == column]
            # Compact and byte-equal to json.dumps of the dict (same key order, same floats).
            assert text == json.dumps(values, separators=(",", ":"))
            for key, value in values.items():
                if key in FLOAT_KEYS:
                    assert type(value) is float
                    assert round(value, 1) == value
                else:
                    assert type(value) is int
