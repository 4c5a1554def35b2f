"""Export: one flat row per check-in with the day's ground-truth state; CSV and JSONL; command and scope."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from profiles.models import Profile
from synthadmin.fieldlabels import FIELD_LABELS
from synthadmin.models import SyntheticUser
from synthadmin.services.backfill import checkins_backfill
from synthadmin.services.export import checkins_export_chunks, checkins_export_write, export_columns
from synthadmin.services.ground_truth import state_by_day
from synthadmin.services.ledger import Starter
from tests.realdata import insert_real_user
from tests.story.conftest import generate

DATA_DICTIONARY = Path(__file__).resolve().parents[2] / "docs" / "data-dictionary.md"


def _sql(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def _csv(run=None) -> list[dict]:
    out = io.StringIO()
    checkins_export_write(run=run, fmt="csv", out=out, chunk_size=50)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_csv_has_a_row_per_checkin_with_every_payload_key_and_the_true_state(supabase_tables_cleanup):
    report = generate(patients=3, therapists=1, days=90, pattern="cycling")
    generate(patients=2, days=30, pattern="stable", seed=8)  # another run: not in this export
    insert_real_user(checkins=4)  # real: never exported

    rows = _csv(report.run_id)

    [(expected,)] = _sql(
        "SELECT count(*) FROM public.check_ins c JOIN synthadmin.synthadmin_syntheticuser e "
        "ON e.user_id = c.user_id WHERE e.run_id = %s",
        [report.run_id],
    )
    assert len(rows) == expected > 0
    assert list(rows[0]) == [c.name for c in export_columns()]
    truths = {
        str(e.user_id): state_by_day(e.ground_truth) for e in SyntheticUser.objects.filter(role="patient")
    }
    stored = {
        (str(u), d.isoformat()): (json.loads(s), json.loads(m))
        for u, d, s, m in _sql("SELECT user_id, checkin_date, sleep_data, mood_data FROM public.check_ins")
    }
    for row in rows:
        sleep, mood = stored[(row["patient_id"], row["checkin_date"])]
        assert float(row["sleep_hoursSlept"]) == sleep["hoursSlept"]
        assert int(row["mood_energyLevel"]) == mood["energyLevel"]
        assert row["state"] == truths[row["patient_id"]][dt.date.fromisoformat(row["checkin_date"])]
        assert row["pattern"] == "cycling" and row["run_id"] == str(report.run_id)
    assert all(row[f.flat_name] != "" for row in rows for f in FIELD_LABELS)


def test_all_exports_every_synthetic_checkin_and_jsonl_has_numbers(supabase_tables_cleanup):
    generate(patients=2, days=30, pattern="manic")
    generate(patients=1, days=30, pattern="stable", seed=3)
    insert_real_user(checkins=4)

    lines = "".join(checkins_export_chunks(run=None, fmt="jsonl", chunk_size=7)).splitlines()

    [(synthetic,)] = _sql(
        "SELECT count(*) FROM public.check_ins c JOIN public.profiles p ON p.id = c.user_id "
        "WHERE p.is_test_patient"
    )
    assert len(lines) == synthetic
    record = json.loads(lines[0])
    assert list(record) == [c.name for c in export_columns()]
    assert isinstance(record["sleep_hoursSlept"], float) and isinstance(record["mood_energyLevel"], int)
    assert record["state"] in {
        "euthymic",
        "depressed_mild",
        "depressed_severe",
        "hypomanic",
        "manic",
        "mixed",
    }


def test_an_extend_run_exports_exactly_the_days_it_added_with_their_states(supabase_tables_cleanup):
    generate(patients=2, days=20)
    extend, _ = checkins_backfill(
        patient_ids=Profile.objects.synthetic().values_list("id", flat=True),
        days=25,
        pattern="depressive",
        started_by=Starter("os:t"),
    )
    assert extend is not None
    rows = _csv(extend.run_id)
    assert len(rows) == extend.checkins_created
    assert all(row["state"] for row in rows)  # the added days' truth is known too
    whole = _csv()
    assert len(whole) == _sql("SELECT count(*) FROM public.check_ins")[0][0]
    assert all(row["state"] for row in whole)


def test_command_writes_a_file_and_refuses_bad_input(supabase_tables_cleanup, tmp_path):
    report = generate(patients=1, days=15)
    target = tmp_path / "out.csv"
    err = StringIO()
    call_command("export_synthetic", "--run", str(report.run_id), "--output", str(target), stderr=err)
    rows = list(csv.DictReader(target.open()))
    assert len(rows) == report.checkins_created and f"Exported {len(rows)} check-ins" in err.getvalue()

    out = StringIO()
    call_command("export_synthetic", "--all", "--format", "jsonl", stdout=out, stderr=StringIO())
    assert len(out.getvalue().splitlines()) == report.checkins_created

    with pytest.raises(CommandError, match="--run: not a run id"):
        call_command("export_synthetic", "--run", "nope", stdout=StringIO())
    with pytest.raises(CommandError, match="no synthetic run"):
        call_command("export_synthetic", "--run", "00000000-0000-0000-0000-000000000001", stdout=StringIO())


def test_data_dictionary_documents_every_column():
    text = DATA_DICTIONARY.read_text()
    for column in export_columns():
        assert f"| `{column.name}` |" in text, column.name
