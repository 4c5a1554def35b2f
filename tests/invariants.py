"""The invariants every scenario must leave true, checked by querying the database."""

from __future__ import annotations

from django.db import connection

from tests.realdata import snapshot_real_rows


def _rows(query: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def assert_invariants(real_before: dict[str, list[tuple]]) -> None:
    """No orphans, no partial histories, no duplicates, every synthetic row flagged, real rows intact."""
    # Every synthetic auth user has its profile.
    orphans = _rows(
        "SELECT u.id, u.email FROM auth.users u LEFT JOIN public.profiles p ON p.id = u.id "
        "WHERE u.raw_app_meta_data ? 'synthadmin' AND p.id IS NULL"
    )
    assert orphans == [], f"synthetic auth users without a profile: {orphans}"
    # Every synthetic profile has its auth user (the FK says so; check anyway).
    missing_auth = _rows(
        "SELECT p.id FROM public.profiles p LEFT JOIN auth.users u ON u.id = p.id "
        "WHERE p.is_test_patient AND u.id IS NULL"
    )
    assert missing_auth == []
    # Every user synthadmin completed has a profile, flagged; every flagged profile it made is complete.
    unflagged = _rows(
        "SELECT s.email FROM synthadmin.synthadmin_syntheticuser s LEFT JOIN public.profiles p ON p.id = s.user_id "
        "WHERE s.state = 'complete' AND p.is_test_patient IS NOT TRUE"
    )
    assert unflagged == [], f"completed users without a flagged profile: {unflagged}"
    not_complete = _rows(
        "SELECT p.email FROM public.profiles p WHERE p.is_test_patient "
        "AND EXISTS (SELECT 1 FROM synthadmin.synthadmin_syntheticuser s WHERE s.user_id = p.id) "
        "AND NOT EXISTS (SELECT 1 FROM synthadmin.synthadmin_syntheticuser s WHERE s.user_id = p.id AND s.state = 'complete')"
    )
    assert not_complete == [], f"synthetic profiles whose ledger entry is not complete: {not_complete}"
    # No partial history: each complete patient has exactly the check-ins its ledger entry counts.
    partial = _rows(
        "SELECT s.email, s.checkins, count(c.id) FROM synthadmin.synthadmin_syntheticuser s "
        "LEFT JOIN public.check_ins c ON c.user_id = s.user_id "
        "WHERE s.state = 'complete' GROUP BY s.id, s.email, s.checkins HAVING s.checkins <> count(c.id)"
    )
    assert partial == [], f"partial histories: {partial}"
    # Users the ledger says were not created left nothing behind.
    leftovers = _rows(
        "SELECT s.email, s.state FROM synthadmin.synthadmin_syntheticuser s "
        "WHERE s.state IN ('collided', 'compensated', 'failed') AND ("
        " EXISTS (SELECT 1 FROM public.profiles p WHERE p.id = s.user_id AND p.is_test_patient) OR"
        " EXISTS (SELECT 1 FROM auth.users u WHERE u.id = s.user_id AND u.raw_app_meta_data -> 'synthadmin' ->> 'intent' = s.id::text))"
    )
    assert leftovers == [], f"failed attempts left rows: {leftovers}"
    duplicates = _rows("SELECT user_id, checkin_date FROM public.check_ins GROUP BY 1, 2 HAVING count(*) > 1")
    assert duplicates == []
    # No real row inserted, changed or deleted.
    assert snapshot_real_rows() == real_before, "real (non-synthetic) rows changed"


def synthetic_counts() -> dict[str, int]:
    (patients, therapists, checkins, auth_users) = _rows(
        "SELECT (SELECT count(*) FROM public.profiles WHERE is_test_patient AND role = 'patient'),"
        " (SELECT count(*) FROM public.profiles WHERE is_test_patient AND role = 'therapist'),"
        " (SELECT count(*) FROM public.check_ins c JOIN public.profiles p ON p.id = c.user_id WHERE p.is_test_patient),"
        " (SELECT count(*) FROM auth.users WHERE raw_app_meta_data ? 'synthadmin')"
    )[0]
    return {"patients": patients, "therapists": therapists, "checkins": checkins, "auth_users": auth_users}


def therapist_links() -> dict:
    """patient id → therapist id, read from whichever link the database has (junction or column)."""
    from synthadmin.target import target_read

    link = target_read().therapist_link
    if link.junction is not None:
        return dict(_rows(f"SELECT patient_id, therapist_id FROM {link.junction}"))
    if link.column is not None:
        return dict(_rows(f"SELECT id, {link.column} FROM public.profiles WHERE {link.column} IS NOT NULL"))
    return {}


def synthetic_caseloads() -> dict[str, int]:
    """E-mail of each synthetic therapist → how many patients are linked to them."""
    links = therapist_links()
    therapists = dict(
        _rows("SELECT id, email FROM public.profiles WHERE is_test_patient AND role = 'therapist'")
    )
    loads = dict.fromkeys(therapists.values(), 0)
    for therapist in links.values():
        if therapist in therapists:
            loads[therapists[therapist]] += 1
    return loads
