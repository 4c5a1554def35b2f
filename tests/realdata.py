"""Real (non-synthetic) users, inserted the way the app would have them, for tests to protect."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.db import connection

NIL = "00000000-0000-0000-0000-000000000000"


def insert_real_user(
    *, role: str = "patient", email: str | None = None, therapist_id: uuid.UUID | None = None,
    is_test_patient: bool | None = False, checkins: int = 0,
) -> uuid.UUID:
    """An auth user, its profile (not a test patient) and ``checkins`` days of check-ins."""
    user_id = uuid.uuid4()
    email = email or f"real-{user_id.hex[:8]}@example.org"
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password,
                confirmation_token, recovery_token, email_change_token_new, email_change,
                raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
            VALUES (%s, %s, 'authenticated', 'authenticated', %s, '', '', '', '', '',
                '{"provider": "email", "providers": ["email"]}', '{}', now(), now())
            """,
            [NIL, user_id, email],
        )
        cursor.execute(
            "INSERT INTO public.profiles (id, email, username, role, therapist_id, is_test_patient) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [user_id, email, email.split("@")[0], role, therapist_id, is_test_patient],
        )
        start = dt.date(2026, 1, 1)
        for day in range(checkins):
            cursor.execute(
                "INSERT INTO public.check_ins (user_id, checkin_date, mood_data) VALUES (%s, %s, %s)",
                [user_id, start + dt.timedelta(days=day), json.dumps({"energyLevel": 5})],
            )
    return user_id


def snapshot_real_rows() -> dict[str, list[tuple]]:
    """Every non-synthetic row of the Supabase tables, to compare before and after a scenario."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.id, u.email, u.encrypted_password, u.raw_app_meta_data::text, u.updated_at "
            "FROM auth.users u LEFT JOIN public.profiles p ON p.id = u.id "
            "WHERE p.is_test_patient IS NOT TRUE AND "
            "(u.raw_app_meta_data -> 'synthadmin') IS NULL ORDER BY u.id"
        )
        users = cursor.fetchall()
        cursor.execute(
            "SELECT id, email, username, role, therapist_id, is_test_patient, updated_at "
            "FROM public.profiles WHERE is_test_patient IS NOT TRUE ORDER BY id"
        )
        profiles = cursor.fetchall()
        cursor.execute(
            "SELECT c.id, c.user_id, c.checkin_date, c.mood_data::text, c.updated_at FROM public.check_ins c "
            "JOIN public.profiles p ON p.id = c.user_id WHERE p.is_test_patient IS NOT TRUE ORDER BY c.id"
        )
        checkins = cursor.fetchall()
    return {"users": users, "profiles": profiles, "checkins": checkins}
