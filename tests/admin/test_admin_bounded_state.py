"""The ground-truth state of a check-in's day, from the indexed intervals
(``synthadmin_stateinterval``), against the stored JSON it replaced — on a generated population
with a backfill — and the triggers that keep the intervals in step with the ledger.

The old definition (``OLD_STATE_SQL`` below: the JSON of every source expanded per check-in,
first match wins) agrees with the intervals on every check-in but one kind: a day inside the
generating window that a patient missed and a later backfill wrote. There the old definition
answered the generating entry's state; the check-in was written with the backfill's, which the
intervals give (the later source wins) — checked against the JSON of the source that wrote it.
"""

from __future__ import annotations

import datetime as dt
import importlib
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from synthadmin.models import CheckinAddition, StateInterval, SyntheticUser
from synthadmin.mood_chart import STATE_LABELS
from synthadmin.services.patient_truth import patient_truth_get, truth_runs_merge
from tests.admin.admin_bounded_population import Population

pytestmark = pytest.mark.django_db

#: The JSON-expanding definition the intervals replaced (``patient_truth.checkin_state_sql``).
OLD_STATE_SQL = """
SELECT c.id, (
    SELECT s.value ->> 0 FROM (
        SELECT e.ground_truth FROM synthadmin.synthadmin_syntheticuser e
        WHERE e.user_id = c.user_id AND e.state = 'complete'
        UNION ALL SELECT a.ground_truth FROM synthadmin.synthadmin_checkinaddition a
        WHERE a.user_id = c.user_id AND a.removed_at IS NULL
    ) g, jsonb_array_elements(g.ground_truth -> 'states') s
    WHERE c.checkin_date BETWEEN (s.value ->> 1)::date AND (s.value ->> 2)::date LIMIT 1
) FROM public.check_ins c
"""


def _rows(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def _runs(stored: dict) -> list[tuple[str, dt.date, dt.date]]:
    return [(s, dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for s, a, b in stored.get("states", [])]


def _day_state(runs: list[tuple[str, dt.date, dt.date]], day: dt.date) -> str | None:
    return next((state for state, first, last in runs if first <= day <= last), None)


def _writer_states() -> dict[uuid.UUID, str | None]:
    """Each check-in → the state in the JSON truth of the source that wrote it: the addition
    whose ``days`` hold its date, else the patient's generating entry."""
    entries = {e.user_id: _runs(e.ground_truth) for e in SyntheticUser.objects.filter(state="complete")}
    added: dict[tuple[uuid.UUID, dt.date], list] = {}
    for addition in CheckinAddition.objects.filter(removed_at__isnull=True):
        for first, last in addition.days:
            day, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
            while day <= end:
                added[(addition.user_id, day)] = _runs(addition.ground_truth)
                day += dt.timedelta(days=1)
    states = {}
    for checkin_id, user_id, day in _rows("SELECT id, user_id, checkin_date FROM public.check_ins"):
        runs = added.get((user_id, day), entries.get(user_id, []))
        states[checkin_id] = _day_state(runs, day)
    return states


def _listed_states(client: Client, **params: str) -> dict[uuid.UUID, str | None]:
    """The check-ins list's ``_day_state`` of every row of the filtered list (its whole queryset)."""
    cl = client.get("/admin/checkins/checkin/", params).context["cl"]
    return dict(cl.queryset.order_by().values_list("id", "_day_state"))


def _intervals(user_id: uuid.UUID) -> list[tuple[str, dt.date, dt.date]]:
    rows = StateInterval.objects.filter(user_id=user_id).order_by("first_day")
    return list(rows.values_list("state", "first_day", "last_day"))


def _expected(user_id: uuid.UUID) -> list[tuple[str, dt.date, dt.date]]:
    """The intervals the stored JSON calls for (``truth_runs_merge``, the page's rule)."""
    sources = [_runs(e.ground_truth) for e in SyntheticUser.objects.filter(user_id=user_id, state="complete")]
    additions = CheckinAddition.objects.filter(user_id=user_id, removed_at__isnull=True).order_by("id")
    return truth_runs_merge(sources + [_runs(a.ground_truth) for a in additions])


def test_state_column_and_filter_agree_with_the_stored_truth(admin_client, population: Population):
    listed = _listed_states(admin_client)
    writer = _writer_states()
    old = dict(_rows(OLD_STATE_SQL))
    assert len(listed) == population.checkins == len(writer) == len(old)
    assert listed == writer  # every check-in: the state it was written with (None: real patients)
    assert sum(state is None for state in listed.values()) == 15  # the real patients' check-ins
    differ = {checkin for checkin in listed if listed[checkin] != old[checkin]}
    added = set(
        _rows(
            "SELECT c.id FROM public.check_ins c JOIN synthadmin.synthadmin_checkinaddition a "
            "ON a.user_id = c.user_id, jsonb_array_elements(a.days) d "
            "WHERE c.checkin_date BETWEEN (d ->> 0)::date AND (d ->> 1)::date "
            "AND EXISTS (SELECT 1 FROM synthadmin.synthadmin_syntheticuser e WHERE e.user_id = c.user_id "
            "AND c.checkin_date BETWEEN (e.ground_truth ->> 'start')::date AND (e.ground_truth ->> 'end')::date)"
        )
    )
    assert differ <= {row[0] for row in added}  # only check-ins a backfill wrote inside the window
    assert 0 < len(differ) < 200  # backfilled missed first days: exercised, and only those
    for state in STATE_LABELS:
        chosen = _listed_states(admin_client, state=state)
        assert set(chosen) == {c for c, s in listed.items() if s == state}, state
        assert set(chosen.values()) <= {state}


def test_patient_page_truth_is_the_intervals(population: Population):
    patients = SyntheticUser.objects.filter(state="complete", role="patient").values_list(
        "user_id", flat=True
    )
    assert len(patients) == 85
    for user_id in patients:
        truth = patient_truth_get(user_id=user_id)
        assert truth is not None and truth.states == _intervals(user_id), user_id
        assert truth.states == _expected(user_id)


def test_intervals_follow_every_change_to_the_stored_truth(population: Population):
    addition = CheckinAddition.objects.filter(run_id=population.backfill_run).order_by("id").first()
    assert addition is not None
    user = addition.user_id
    entry = SyntheticUser.objects.get(user_id=user, state="complete")
    before = _intervals(user)
    assert {a for _, a, _ in before} >= {dt.date.fromisoformat(r[1]) for r in addition.ground_truth["states"]}

    CheckinAddition.objects.filter(pk=addition.pk).update(removed_at=timezone.now())  # purged
    assert _intervals(user) == _runs(entry.ground_truth) == _expected(user)
    CheckinAddition.objects.filter(pk=addition.pk).update(removed_at=None)
    assert _intervals(user) == before

    changed = {**entry.ground_truth, "states": [["manic", "2026-01-01", "2026-01-31"]]}
    SyntheticUser.objects.filter(pk=entry.pk).update(ground_truth=changed)
    assert _intervals(user) == _expected(user)
    assert ("manic", dt.date(2026, 1, 1), dt.date(2026, 1, 31)) in _intervals(user)

    SyntheticUser.objects.filter(pk=entry.pk).update(state="purged")
    assert _intervals(user) == _runs(addition.ground_truth)
    SyntheticUser.objects.filter(pk=entry.pk).update(checkins=1)  # not the truth: nothing to do
    assert _intervals(user) == _runs(addition.ground_truth)

    other = uuid.uuid4()
    CheckinAddition.objects.filter(pk=addition.pk).update(user_id=other)
    assert _intervals(user) == [] and _intervals(other) == _runs(addition.ground_truth)
    CheckinAddition.objects.filter(pk=addition.pk).delete()
    assert _intervals(other) == []

    new = SyntheticUser.objects.create(
        run_id=population.main_run, user_id=uuid.uuid4(), email="n@example.com", role="patient",
        state="complete", ground_truth={"states": [["euthymic", "2026-02-01", "2026-02-03"]]},
    )  # fmt: skip
    assert _intervals(new.user_id) == [("euthymic", dt.date(2026, 2, 1), dt.date(2026, 2, 3))]
    SyntheticUser.objects.filter(pk=new.pk).delete()
    assert _intervals(new.user_id) == []


def test_a_truth_synthadmin_would_not_write_never_fails_the_ledger_write(population: Population):
    """The triggers run inside the ledger's writes: whatever a stored truth holds, the write goes
    through; runs that are not ``[state, YYYY-MM-DD, YYYY-MM-DD]`` (in order) give no interval."""
    long_state = "=HYPERLINK(" + "x" * 300 + ")"
    cases = {
        "no states": ({}, []),
        "states null": ({"states": None}, []),
        "states text": ({"states": "x"}, []),
        "odd runs": ({"states": [["manic", None, "2026-01-01"], "x", [], ["manic"]]}, []),
        "not dates": (
            {"states": [["manic", "2026-02-30", "2026-03-01"], ["mixed", "tomorrow", "2026-01-01"]]},
            [],
        ),
        "reversed": ({"states": [["manic", "2026-03-02", "2026-03-01"]]}, []),
        "any state": (
            {"states": [[long_state, "2026-01-01", "2026-01-02"]]},
            [(long_state, dt.date(2026, 1, 1), dt.date(2026, 1, 2))],
        ),
    }
    for name, (truth, expected) in cases.items():
        entry = SyntheticUser.objects.create(
            run_id=population.main_run, user_id=uuid.uuid4(), email="m@example.com", role="patient",
            state="complete", ground_truth=truth,
        )  # fmt: skip
        assert _intervals(entry.user_id) == expected, name


def test_migration_backfill_rebuilds_the_same_intervals(population: Population):
    migration = importlib.import_module("synthadmin.migrations.0010_state_intervals")
    kept = list(
        StateInterval.objects.order_by("user_id", "first_day").values_list(
            "user_id", "state", "first_day", "last_day", "source", "source_id"
        )
    )
    StateInterval.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    rebuilt = list(
        StateInterval.objects.order_by("user_id", "first_day").values_list(
            "user_id", "state", "first_day", "last_day", "source", "source_id"
        )
    )
    assert rebuilt == kept and len(kept) > 1000


def test_truth_runs_merge_later_sources_win():
    d = dt.date
    entry = [("euthymic", d(2026, 1, 1), d(2026, 1, 10)), ("manic", d(2026, 1, 11), d(2026, 1, 20))]
    backfill = [("depressed_mild", d(2025, 12, 20), d(2026, 1, 2))]  # over missed Jan 1-2
    inside = [("mixed", d(2026, 1, 5), d(2026, 1, 6))]  # splits a run in two
    assert truth_runs_merge([entry, backfill, inside]) == [
        ("depressed_mild", d(2025, 12, 20), d(2026, 1, 2)),
        ("euthymic", d(2026, 1, 3), d(2026, 1, 4)),
        ("mixed", d(2026, 1, 5), d(2026, 1, 6)),
        ("euthymic", d(2026, 1, 7), d(2026, 1, 10)),
        ("manic", d(2026, 1, 11), d(2026, 1, 20)),
    ]
    assert truth_runs_merge([entry]) == entry
    assert truth_runs_merge([]) == [] and truth_runs_merge([[], entry]) == entry
    covering = [("hypomanic", d(2025, 1, 1), d(2027, 1, 1))]
    assert truth_runs_merge([entry, covering]) == covering
