"""Spreadsheet-safe CSVs: passwords never start with a character a spreadsheet reads as a formula,
and every CSV synthadmin writes — the export, the admin's logins, ``--credentials-out`` — writes a
text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR with a ``'`` in front (OWASP);
numbers stay numbers."""

from __future__ import annotations

import ast
import csv
import datetime as dt
import io
import itertools
import string
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from synthadmin.csvsafe import FORMULA_LEADS, cell_safe, csv_writer
from synthadmin.models import SyntheticRun, SyntheticUser
from synthadmin.services import user_creation
from synthadmin.services.export import checkins_export_write
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.logins import (
    credential_row,
    credentials_writer,
    logins_sink,
    logins_take,
    password_new,
)
from synthadmin.services.reports import Credential
from synthadmin.services.requests import GenerationRequest
from tests.story.conftest import generate

HOSTILE = (
    '=HYPERLINK("http://evil.example","x")',
    "+1",
    "-1",
    "@SUM(A1:A9)",
    "\tcmd",
    "\rcmd",
)
URLSAFE = set(string.ascii_letters + string.digits + "-_")


def _neutralised(cell: str, hostile: str) -> bool:
    return cell == "'" + hostile


def _read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.fixture
def hostile_passwords(monkeypatch):
    """The user creation's password maker hands out the hostile texts in turn."""
    passwords = itertools.cycle(HOSTILE)
    monkeypatch.setattr(user_creation, "password_new", lambda: next(passwords))


def test_ten_thousand_passwords_none_starts_with_a_formula_character():
    passwords = [password_new() for _ in range(10_000)]
    assert not [p for p in passwords if p.startswith(FORMULA_LEADS)]
    assert all(p[0] in string.ascii_letters + string.digits for p in passwords)
    assert all(len(p) == 44 and set(p) <= URLSAFE for p in passwords)  # 5.95 + 43 x 6 = 262 bits
    assert len(set(passwords)) == 10_000
    assert len({p[0] for p in passwords}) == 62  # the whole first alphabet is used


def test_the_rule_for_one_cell():
    for hostile in HOSTILE:
        assert cell_safe(hostile) == "'" + hostile
    for number in ("-1", "-0.5", "+3", "-1e3"):
        assert cell_safe(number, number=True) == number  # a negative number is a number
        assert cell_safe(number) == "'" + number  # in a text column it is text
    assert cell_safe("=1+1", number=True) == "'=1+1"
    for kept in ("", "stable", "a=b", "1", -1, -0.5, None, dt.date(2026, 1, 1)):
        assert cell_safe(kept) == kept and cell_safe(kept, number=True) == kept
    out = io.StringIO()
    writer = csv_writer(out, numbers=[1], lineterminator="\n")
    writer.writerow(["-1", "-1", -1, "a"])
    writer.writerow(["x", "1\r2", "\rcmd"])  # a bare CR would split the row: quoted
    assert out.getvalue() == '\'-1,-1,-1,a\n"x","1\r2","\'\rcmd"\n'
    assert list(csv.reader(io.StringIO(out.getvalue(), newline=""))) == [
        ["'-1", "-1", "-1", "a"],
        ["x", "1\r2", "'\rcmd"],
    ]


def test_every_csv_writer_is_the_safe_one():
    """No module of the product writes CSV but through ``synthadmin.csvsafe``."""
    root = Path(__file__).resolve().parents[2] / "synthadmin"
    direct = []
    for path in root.rglob("*.py"):
        if path.name == "csvsafe.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("writer", "DictWriter"):
                if isinstance(node.value, ast.Name) and node.value.id == "csv":
                    direct.append(f"{path.relative_to(root)}:{node.lineno}")
    assert direct == []


def test_the_export_neutralises_every_text_column_and_keeps_numbers(supabase_tables_cleanup):
    report = generate(patients=len(HOSTILE), days=6, pattern="stable")
    entries = list(SyntheticUser.objects.filter(run_id=report.run_id).order_by("user_id"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(checkin_date), max(checkin_date) FROM public.check_ins")
        first, last = cursor.fetchone()
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    for n, entry in enumerate(entries):  # a hostile pattern per patient, a hostile state per day
        states = [[HOSTILE[i % len(HOSTILE)], d.isoformat(), d.isoformat()] for i, d in enumerate(days)]
        entry.ground_truth = {**entry.ground_truth, "pattern": HOSTILE[n], "states": states}
        entry.save(update_fields=["ground_truth"])
    with connection.cursor() as cursor:  # payload values that are not numbers, and a negative one
        # A check-in that exists (a patient may skip a day, the first one included).
        cursor.execute(
            "SELECT user_id, checkin_date FROM public.check_ins WHERE user_id = ANY(%s) "
            "ORDER BY checkin_date, user_id LIMIT 1",
            [[e.user_id for e in entries]],
        )
        hostile_user, hostile_day = cursor.fetchone()
        cursor.execute(
            "UPDATE public.check_ins SET mood_data = mood_data || jsonb_build_object('energyLevel', %s::text, "
            "'depressedMood', -1) WHERE user_id = %s AND checkin_date = %s",
            [HOSTILE[0], hostile_user, hostile_day],
        )
        assert cursor.rowcount == 1

    out = io.StringIO()
    checkins_export_write(run=report.run_id, fmt="csv", out=out)
    rows = _read(out.getvalue())

    assert len(rows) == report.checkins_created
    patterns = {str(e.user_id): HOSTILE[n] for n, e in enumerate(entries)}
    for row in rows:
        day = dt.date.fromisoformat(row["checkin_date"])
        assert _neutralised(row["pattern"], patterns[row["patient_id"]])
        assert _neutralised(row["state"], HOSTILE[(day - first).days % len(HOSTILE)])
    [odd] = [
        r
        for r in rows
        if r["patient_id"] == str(hostile_user) and r["checkin_date"] == hostile_day.isoformat()
    ]
    assert _neutralised(odd["mood_energyLevel"], HOSTILE[0])
    assert odd["mood_depressedMood"] == "-1"  # a number stays a number


def test_the_admins_logins_are_neutralised_in_every_column(supabase_tables_cleanup, hostile_passwords):
    from django.contrib.auth.models import User

    staff = User.objects.create_superuser("starter", "starter@example.org", "x")
    report = population_generate(
        request=GenerationRequest(patients=len(HOSTILE), checkin_days=2, pattern="stable", seed=4),
        started_by=Starter("staff:starter", user_id=staff.pk),
        credentials=logins_sink(),
    )
    patient = SyntheticUser.objects.filter(run_id=report.run_id).first()
    assert patient is not None
    hold = logins_sink()
    for hostile in HOSTILE:  # e-mail and role too
        hold(Credential(email=hostile, password=hostile, role=hostile, user_id=patient.user_id))
    run = SyntheticRun.objects.get(pk=report.run_id)
    SyntheticRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())

    rows = _read(b"".join(logins_take(run=run, user=staff)).decode())

    made, held = rows[: len(HOSTILE)], rows[len(HOSTILE) :]
    assert sorted(r["password"] for r in made) == sorted("'" + h for h in HOSTILE)
    for row, hostile in zip(held, HOSTILE, strict=True):
        assert all(_neutralised(row[c], hostile) for c in ("email", "password", "role"))


def test_credentials_out_is_neutralised(real_population, tmp_path, hostile_passwords):
    path = tmp_path / "creds.csv"
    call_command(
        "generate_synthetic",
        *("--patients", str(len(HOSTILE)), "--checkins", "2", "--credentials-out", str(path)),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    rows = _read(path.open(newline="").read())
    assert sorted(r["password"] for r in rows) == sorted("'" + h for h in HOSTILE)

    out = io.StringIO()  # the same writer, its other text columns
    writer = credentials_writer(out)
    for hostile in HOSTILE:
        writer.writerow(
            credential_row(
                Credential(email=hostile, password="p", role=hostile, user_id=uuid.UUID(rows[0]["user_id"]))
            )
        )
    for row, hostile in zip(_read(out.getvalue()), HOSTILE, strict=True):
        assert _neutralised(row["email"], hostile) and _neutralised(row["role"], hostile)
