"""Real (non-synthetic) users, inserted the way the app would have them, for tests to protect.

Shape-aware: where a signup trigger makes the profile, the app's row is completed; the
therapist link goes where the shape keeps it (``synthadmin.target``).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from django.db import connection
from psycopg import sql

from synthadmin.target import PROFILES, target_read

NIL = "00000000-0000-0000-0000-000000000000"


def insert_real_user(
    *,
    role: str = "patient",
    email: str | None = None,
    therapist_id: uuid.UUID | None = None,
    is_test_patient: bool | None = False,
    checkins: int = 0,
) -> uuid.UUID:
    """An auth user, its profile (not a test patient) and ``checkins`` days of check-ins."""
    target = target_read()
    user_id = uuid.uuid4()
    email = email or f"real-{user_id.hex[:8]}@example.org"
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password,
                confirmation_token, recovery_token, email_change_token_new, email_change,
                raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
            VALUES (%s, %s, 'authenticated', 'authenticated', %s, '', '', '', '', '',
                '{"provider": "email", "providers": ["email"]}', %s, now(), now())
            """,
            [NIL, user_id, email, json.dumps({"role": role})],
        )
        values: dict[str, Any] = {
            "email": email,
            "username": email.split("@")[0],
            "role": role,
            "is_test_patient": is_test_patient,
        }
        if target.has_source:
            values["source"] = "signup"
        if target.therapist_link.column and therapist_id:
            values[target.therapist_link.column] = therapist_id
        cursor.execute("SELECT EXISTS (SELECT 1 FROM public.profiles WHERE id = %s)", [user_id])
        if cursor.fetchone()[0]:  # the signup trigger made it
            query = sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
                PROFILES.sql, sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in values)
            )
            cursor.execute(query.as_string(connection.connection), [*values.values(), user_id])
        else:
            query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                PROFILES.sql,
                sql.SQL(", ").join(map(sql.Identifier, ["id", *values])),
                sql.SQL(", ").join(sql.Placeholder() * (len(values) + 1)),
            )
            cursor.execute(query.as_string(connection.connection), [user_id, *values.values()])
        if target.therapist_link.junction and therapist_id:
            query = sql.SQL("INSERT INTO {} (therapist_id, patient_id) VALUES (%s, %s)").format(
                target.therapist_link.junction.sql
            )
            cursor.execute(query.as_string(connection.connection), [therapist_id, user_id])
        start = dt.date(2026, 1, 1)
        for day in range(checkins):
            cursor.execute(
                "INSERT INTO public.check_ins (user_id, checkin_date, mood_data) VALUES (%s, %s, %s)",
                [user_id, start + dt.timedelta(days=day), json.dumps({"energyLevel": 5})],
            )
    return user_id


_SYNTHETIC_IDS = (
    "SELECT id FROM auth.users WHERE raw_app_meta_data ? 'synthadmin' "
    "UNION SELECT id FROM public.profiles WHERE is_test_patient IS TRUE"
)


def snapshot_real_rows() -> dict[str, list[tuple]]:
    """Every row of ``auth.users`` and of each ``public`` table that is not only a synthetic user's.

    A row is real when it belongs to no synthetic user, or when any of its user references
    (foreign keys to ``auth.users``/``profiles``) names a user who is not synthetic — a real
    patient's link to a synthetic therapist is real data. Compared before and after a scenario.
    """
    target = target_read()
    snapshot: dict[str, list[tuple]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.id, u.email, u.encrypted_password, u.raw_app_meta_data::text, u.updated_at "
            f"FROM auth.users u WHERE u.id NOT IN ({_SYNTHETIC_IDS}) ORDER BY u.id"
        )
        snapshot["users"] = cursor.fetchall()
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"
        )
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            name = ("public", table)
            refs = target.user_reference_columns(name) if table != "profiles" else ["id"]  # type: ignore[arg-type]
            if refs:
                real = sql.SQL(" OR ").join(
                    sql.SQL("({col} IS NOT NULL AND {col} NOT IN (" + _SYNTHETIC_IDS + "))").format(
                        col=sql.Identifier(col)
                    )
                    for col in refs
                )
                query = sql.SQL("SELECT t::text FROM {} t WHERE {} ORDER BY 1").format(
                    sql.Identifier(*name), real
                )
            else:
                query = sql.SQL("SELECT t::text FROM {} t ORDER BY 1").format(sql.Identifier(*name))
            cursor.execute(query.as_string(connection.connection))
            snapshot[table] = cursor.fetchall()
    return snapshot
