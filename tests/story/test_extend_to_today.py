"""Extend to today: each synthetic patient's mood chain continued from its stored ground truth.

Invariants checked in the database: no duplicate date, nothing after today, the combined stored
truth covers every day up to today without a gap, the first new day follows the last stored day
by the chain's rules and full episodes keep their DSM-5 minimum length across the join.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from profiles.models import Profile
from synthadmin.content import get_pattern
from synthadmin.content.patterns import DSM_MINIMUM_DAYS
from synthadmin.content.states import MoodState
from synthadmin.exceptions import InvalidRequestError
from synthadmin.models import CheckinAddition, SyntheticRun, SyntheticUser
from synthadmin.services.additions import dates_of
from synthadmin.services.extend_today import checkins_extend_to_today
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.purge import synthetic_users_purge
from synthadmin.services.requests import GenerationRequest
from tests.realdata import insert_real_user

STARTER = Starter("os:tester")


def _generate(
    *, patients: int, days: int, ended_days_ago: int, pattern: str = "rapid_cycling", seed: int = 7
):
    return population_generate(
        request=GenerationRequest(
            patients=patients,
            checkin_days=days,
            pattern=pattern,
            seed=seed,
            end_date=timezone.localdate() - dt.timedelta(days=ended_days_ago),
        ),
        started_by=STARTER,
    )


def _rows(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def _checkins() -> set[tuple]:
    return set(_rows("SELECT id, user_id, checkin_date, mood_data::text FROM public.check_ins"))


def _assert_invariants() -> None:
    today = timezone.localdate()
    assert _rows("SELECT user_id, checkin_date FROM public.check_ins GROUP BY 1, 2 HAVING count(*) > 1") == []
    assert _rows("SELECT 1 FROM public.check_ins WHERE checkin_date > %s", [today]) == []
    # The ledger counts what each patient has.
    for user_id, count in SyntheticUser.objects.filter(role="patient").values_list("user_id", "checkins"):
        assert _rows("SELECT count(*) FROM public.check_ins WHERE user_id = %s", [user_id])[0][0] == count


def _windows(user_id) -> list[dict]:
    """The patient's stored truth: its generating window, then its additions in place, by date."""
    entry = SyntheticUser.objects.get(user_id=user_id, state="complete")
    additions = CheckinAddition.objects.filter(user_id=user_id, removed_at__isnull=True).order_by("id")
    return sorted([entry.ground_truth, *(a.ground_truth for a in additions)], key=lambda w: w["start"])


def _merged_episodes(windows: list[dict]) -> list[dict]:
    """Episodes of consecutive windows, the one that crosses each join merged into one."""
    merged: list[dict] = []
    for window in windows:
        for episode in window["episodes"]:
            start, end = dt.date.fromisoformat(episode["start"]), dt.date.fromisoformat(episode["end"])
            last = merged[-1] if merged else None
            if (
                last is not None
                and last["kind"] == episode["kind"]
                and last["end"] + dt.timedelta(days=1) == start
            ):
                last["end"] = end
                last["joined"] = True
            else:
                merged.append({**episode, "start": start, "end": end, "joined": False})
    return merged


def test_the_chain_continues_without_a_jump_and_dsm_minimums_hold_across_the_join(supabase_tables_cleanup):
    _generate(patients=12, days=120, ended_days_ago=25)
    today = timezone.localdate()
    patients = list(Profile.objects.synthetic().values_list("id", flat=True))

    done = checkins_extend_to_today(patient_ids=patients, started_by=STARTER)

    assert done.report is not None and done.report.status == "succeeded"
    assert done.patients_extended == 12 and done.report.checkins_created > 0
    _assert_invariants()
    model = get_pattern("rapid_cycling")
    keys = [t.key for t in model.episode_types]
    open_at_join = 0
    for user_id in patients:
        generated, added = _windows(user_id)
        assert dt.date.fromisoformat(added["start"]) == dt.date.fromisoformat(
            generated["end"]
        ) + dt.timedelta(days=1)
        assert added["end"] == today.isoformat()
        before, after = generated["episodes"][-1], added["episodes"][0]
        days_before = (dt.date.fromisoformat(before["end"]) - dt.date.fromisoformat(before["start"])).days + 1
        if before["true_days"] > days_before:  # open at the join: the same episode carries on
            open_at_join += 1
            assert (after["kind"], after["state"], after["true_days"]) == (
                before["kind"],
                before["state"],
                before["true_days"],
            )
        else:  # it ended on the last stored day: the next is a permitted transition
            assert model.transitions[keys.index(before["kind"])][keys.index(after["kind"])] > 0
        episodes = _merged_episodes([generated, added])
        for episode in episodes[1:-1]:  # the first began before the window, the last is still open
            if episode["full"]:
                days = (episode["end"] - episode["start"]).days + 1
                assert days >= DSM_MINIMUM_DAYS[MoodState(episode["state"])], episode
    assert open_at_join >= 6  # most rapid-cycling patients are mid-episode 25 days after the end
    assert any(e["joined"] and e["full"] for u in patients for e in _merged_episodes(_windows(u)))


def test_twice_adds_nothing_the_second_time(supabase_tables_cleanup):
    _generate(patients=3, days=30, ended_days_ago=10, pattern="cycling")
    first = checkins_extend_to_today(all_patients=True, started_by=STARTER)
    after_first = _checkins()
    runs = SyntheticRun.objects.count()

    second = checkins_extend_to_today(all_patients=True, started_by=STARTER)

    assert first.report is not None and first.patients_extended == 3
    assert second.report is None and second.up_to_date == 3 and second.refusals == []
    assert _checkins() == after_first and SyntheticRun.objects.count() == runs  # no empty run either
    _assert_invariants()


def test_the_next_extension_continues_from_the_new_last_day(supabase_tables_cleanup, monkeypatch):
    _generate(patients=2, days=60, ended_days_ago=30, pattern="cycling")
    today = timezone.localdate()
    monkeypatch.setattr(timezone, "localdate", lambda: today - dt.timedelta(days=12))
    first = checkins_extend_to_today(all_patients=True, started_by=STARTER)
    assert first.report is not None
    monkeypatch.undo()

    second = checkins_extend_to_today(all_patients=True, started_by=STARTER)
    assert second.report is not None

    for addition in CheckinAddition.objects.filter(run_id=second.report.run_id):
        generated, middle, last = _windows(addition.user_id)
        assert middle["end"] == (today - dt.timedelta(days=12)).isoformat()
        assert (
            last["start"] == (today - dt.timedelta(days=11)).isoformat() and last["end"] == today.isoformat()
        )
        # Days spent in the episode open at the second join count from where it began, two windows back.
        spans = _merged_episodes([generated, middle, last])
        assert all(
            (e["end"] - e["start"]).days + 1 >= DSM_MINIMUM_DAYS[MoodState(e["state"])]
            for e in spans[1:-1]
            if e["full"]
        )
    assert first.report.run_id != second.report.run_id
    _assert_invariants()


def test_purging_the_extend_run_removes_exactly_its_days_and_the_next_extension_adds_them_again(
    supabase_tables_cleanup,
):
    _generate(patients=3, days=40, ended_days_ago=20, pattern="depressive")
    before = _checkins()
    done = checkins_extend_to_today(all_patients=True, started_by=STARTER)
    assert done.report is not None
    added = _checkins() - before
    recorded = {
        (a.user_id, day)
        for a in CheckinAddition.objects.filter(run_id=done.report.run_id)
        for day in dates_of(a.days)
    }
    assert (
        recorded == {(user, day) for _, user, day, _ in added} and len(added) == done.report.checkins_created
    )

    purge = synthetic_users_purge(run=done.report.run_id)

    assert purge.checkins_deleted == len(added) and _checkins() == before
    _assert_invariants()
    again = checkins_extend_to_today(all_patients=True, started_by=STARTER)
    assert again.report is not None
    # Deterministic: the same patients continued from the same day get the same days.
    assert {(u, d, m) for _, u, d, m in _checkins() - before} == {(u, d, m) for _, u, d, m in added}
    assert again.report.checkins_created == len(added)


def test_a_patient_generated_before_ground_truth_was_stored_continues_its_regenerated_truth(
    supabase_tables_cleanup,
):
    report = _generate(patients=2, days=90, ended_days_ago=15, pattern="manic")
    before = _checkins()
    stored = checkins_extend_to_today(run=report.run_id, started_by=STARTER)
    assert stored.report is not None
    from_stored = _checkins() - before
    truths = {a.user_id: a.ground_truth for a in CheckinAddition.objects.filter(run_id=stored.report.run_id)}
    synthetic_users_purge(run=stored.report.run_id)
    SyntheticUser.objects.filter(run_id=report.run_id).update(ground_truth={})  # as an older version left it

    regenerated = checkins_extend_to_today(run=report.run_id, started_by=STARTER)
    assert regenerated.report is not None

    assert regenerated.patients_extended == 2
    assert {(u, d, m) for _, u, d, m in _checkins() - before} == {(u, d, m) for _, u, d, m in from_stored}
    for addition in CheckinAddition.objects.filter(run_id=regenerated.report.run_id):
        assert addition.ground_truth == truths[addition.user_id]
    _assert_invariants()


def test_real_patients_are_refused_and_untouched(supabase_tables_cleanup):
    _generate(patients=1, days=20, ended_days_ago=5, pattern="stable")
    real = insert_real_user(checkins=4)
    synthetic = Profile.objects.synthetic().get().pk
    real_before = _rows(
        "SELECT id, checkin_date, mood_data::text FROM public.check_ins WHERE user_id = %s", [real]
    )

    only_real = checkins_extend_to_today(patient_ids=[real], started_by=STARTER)
    assert only_real.report is None and SyntheticRun.objects.filter(kind="extend").count() == 0
    assert [r.reason for r in only_real.refusals] == ["a real patient: synthadmin never writes to it"]

    both = checkins_extend_to_today(patient_ids=[real, synthetic], started_by=STARTER)
    assert both.report is not None

    assert both.patients_extended == 1 and len(both.refusals) == 1
    assert CheckinAddition.objects.get(run_id=both.report.run_id).user_id == synthetic
    assert (
        _rows("SELECT id, checkin_date, mood_data::text FROM public.check_ins WHERE user_id = %s", [real])
        == real_before
    )


def test_existing_days_are_kept_and_a_patient_checked_in_today_gets_nothing(supabase_tables_cleanup):
    _generate(patients=2, days=20, ended_days_ago=6, pattern="stable", seed=3)
    today = timezone.localdate()
    first, second = Profile.objects.synthetic().order_by("email").values_list("id", flat=True)
    kept_day = today - dt.timedelta(days=2)
    with connection.cursor() as cursor:
        for user, day in ((first, kept_day), (second, today)):
            cursor.execute(
                "INSERT INTO public.check_ins (user_id, checkin_date, mood_data) VALUES (%s, %s, '{\"kept\": 1}')",
                [user, day],
            )
        cursor.execute(
            "UPDATE synthadmin.synthadmin_syntheticuser SET checkins = checkins + 1 WHERE user_id IN (%s, %s)",
            [first, second],
        )

    done = checkins_extend_to_today(all_patients=True, started_by=STARTER)
    assert done.report is not None

    assert done.patients_extended == 1 and done.up_to_date == 1
    addition = CheckinAddition.objects.get(run_id=done.report.run_id)
    assert addition.user_id == first and kept_day not in dates_of(addition.days)
    assert addition.ground_truth["end"] == today.isoformat()
    assert _rows(
        "SELECT mood_data::text FROM public.check_ins WHERE user_id = %s AND checkin_date = %s",
        [first, kept_day],
    ) == [('{"kept": 1}',)]
    _assert_invariants()


def test_a_selection_is_one_of_ids_a_run_or_all(transactional_db):
    with pytest.raises(InvalidRequestError):
        checkins_extend_to_today(started_by=STARTER)
    with pytest.raises(InvalidRequestError, match="no synthadmin run"):
        checkins_extend_to_today(run="9f0e8d7c-0000-4000-8000-000000000000", started_by=STARTER)
    assert SyntheticRun.objects.count() == 0


def test_a_stop_before_the_first_patient_starts_no_run_and_writes_no_checkins(supabase_tables_cleanup):
    import threading

    _generate(patients=2, days=20, ended_days_ago=4, pattern="stable")
    before = _checkins()
    runs_before = SyntheticRun.objects.count()
    stop = threading.Event()
    stop.set()

    done = checkins_extend_to_today(all_patients=True, started_by=STARTER, stop=stop)

    # Asked to stop while choosing: no run is recorded (nothing to purge), nothing is written.
    assert done.stopped and done.patients_extended == 0 and done.report is None
    assert SyntheticRun.objects.count() == runs_before
    assert _checkins() == before and not CheckinAddition.objects.exists()
    # Run again without the stop: it finishes.
    assert checkins_extend_to_today(all_patients=True, started_by=STARTER).patients_extended == 2
