"""Every session is pinned at connect: a database whose defaults are DateStyle 'SQL, DMY' and
TimeZone 'Pacific/Kiritimati' (UTC+14) still migrates, generates and purges, dates right."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from psycopg import sql

from synthadmin.db.session import SESSION_SETTINGS, session_options
from tests.dbutil import admin_conninfo, database_url, manage, scratch_database


@pytest.mark.django_db
def test_odd_database_defaults_do_not_leak_into_synthadmin_sessions():
    with scratch_database("datestyle") as name:
        with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
            for setting, value in (("DateStyle", "SQL, DMY"), ("TimeZone", "Pacific/Kiritimati")):
                conn.execute(
                    sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                        sql.Identifier(name), sql.Identifier(setting.lower()), sql.Literal(value)
                    )
                )
        env = {"DATABASE_URL": database_url(name)}
        manage("migrate", "--no-input", env=env)
        # What a synthadmin session sees, from its very first statement.
        seen = manage(
            "shell",
            "-c",
            "from django.db import connection; c = connection.cursor(); "
            "c.execute('SHOW DateStyle'); print(c.fetchone()[0]); "
            "c.execute('SHOW TimeZone'); print(c.fetchone()[0]); "
            "c.execute('SHOW search_path'); print(c.fetchone()[0])",
            env=env,
        ).stdout.splitlines()[-3:]
        assert seen[0].startswith("ISO") and seen[1] == "UTC" and seen[2] == "synthadmin, public"
        end = dt.date(2026, 3, 14)
        manage(
            "generate_synthetic",
            "--patients",
            "3",
            "--checkins",
            "10",
            "--adherence",
            "1",
            "--end-date",
            end.isoformat(),
            "--seed",
            "7",
            env=env,
        )
        with psycopg.connect(admin_conninfo(name), options=session_options()) as conn:
            dates = conn.execute(
                "SELECT user_id, min(checkin_date), max(checkin_date), count(*) FROM public.check_ins "
                "GROUP BY user_id"
            ).fetchall()
            status = conn.execute("SELECT status FROM synthadmin.synthadmin_syntheticrun").fetchall()
        assert len(dates) == 3
        for _user, first, last, count in dates:
            assert (first, last, count) == (end - dt.timedelta(days=9), end, 10)
        assert status == [("succeeded",)]
        purge = manage("purge_synthetic", "--all", "--yes", env=env)
        assert "Traceback" not in purge.stderr
        with psycopg.connect(admin_conninfo(name)) as conn:
            left = conn.execute(
                "SELECT (SELECT count(*) FROM auth.users), (SELECT count(*) FROM public.check_ins)"
            ).fetchone()
        assert left == (0, 0)


def test_session_options_pin_every_setting():
    options = session_options("-c statement_timeout=5s")
    assert options.startswith("-c statement_timeout=5s ")
    for name in SESSION_SETTINGS:
        assert f"-c {name}=" in options
    assert " public" not in options  # no unescaped space inside a value
