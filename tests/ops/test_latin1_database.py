"""A database whose encoding cannot hold every name: LATIN1 (``CREATE DATABASE … ENCODING 'LATIN1'
LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0``), migrated, driven by ``manage.py`` as an operator
would. A ru_RU or ja_JP run is refused before anything is written (one line, exit 1; the dry run
and --background too); pt_BR names (``João``) are stored as they are; every message synthadmin
stores fits — a run whose users all fail stops after 3 in a row (exit 3) with every ledger entry
settled and its reason kept (it used to leave every entry ``intent``, no reason, because of an em
dash in synthadmin's own message), and text the encoding lacks is kept as ``\\uXXXX``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from synthadmin.management import exitcodes
from tests.dbutil import admin_conninfo, database_url, manage, scratch_database_register

FAILING_TRIGGER = """
CREATE FUNCTION public.refuse_signups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'signups are closed for %', NEW.email; END; $$;
CREATE TRIGGER refuse_signups BEFORE INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.refuse_signups();
"""


@pytest.fixture(scope="module")
def latin1(django_db_blocker) -> str:
    """A migrated LATIN1 database of this module's own; yields its URL."""
    name = f"synthadmin_latin1_{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        conninfo = admin_conninfo()
        url = database_url(name)
        scratch_database_register(name)  # dropped at the session's end (a drop waits for a checkpoint)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
            ).format(sql.Identifier(name))
        )
    manage("migrate", "--no-input", "-v", "0", env={"DATABASE_URL": url})
    return url


def _q(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:  # client encoding UTF8: the server converts
        return conn.execute(query).fetchall()


def _written(url: str) -> tuple[int, int, int]:
    return _q(
        url,
        "SELECT (SELECT count(*) FROM synthadmin.synthadmin_syntheticrun), "
        "(SELECT count(*) FROM synthadmin.synthadmin_syntheticuser), (SELECT count(*) FROM auth.users)",
    )[0]


@pytest.fixture
def clean(latin1: str) -> Iterator[str]:
    yield latin1
    with psycopg.connect(latin1, autocommit=True) as conn:
        conn.execute("DROP TRIGGER IF EXISTS refuse_signups ON auth.users")
        conn.execute("DROP FUNCTION IF EXISTS public.refuse_signups()")
        conn.execute("TRUNCATE auth.users CASCADE")
        conn.execute("DELETE FROM synthadmin.synthadmin_syntheticuser")
        conn.execute("DELETE FROM synthadmin.synthadmin_syntheticrun")


@pytest.mark.parametrize("locale", ["ru_RU", "ja_JP"])
@pytest.mark.parametrize("mode", ["run", "dry-run", "background"])
def test_names_the_encoding_cannot_hold_are_refused_before_writing(clean, locale, mode):
    extra = {"run": [], "dry-run": ["--dry-run"], "background": ["--background"]}[mode]
    result = manage(
        "generate_synthetic",
        "--patients",
        "3",
        "--locale",
        locale,
        *extra,
        env={"DATABASE_URL": clean},
        check=False,
    )
    assert result.returncode == exitcodes.INVALID
    lines = [line for line in result.stderr.splitlines() if not line.startswith("synthadmin: using")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"encoding, LATIN1, cannot hold the names of locale {locale}" in lines[0]
    assert _written(clean) == (0, 0, 0)


def test_names_the_encoding_holds_are_stored_as_they_are(clean):
    result = manage(
        "generate_synthetic", "--patients", "6", "--therapists", "1", "--seed", "1", "--locale", "pt_BR",
        env={"DATABASE_URL": clean}, check=False,
    )  # fmt: skip
    assert result.returncode == exitcodes.OK, result.stderr
    names = [row[0] for row in _q(clean, "SELECT raw_user_meta_data ->> 'name' FROM auth.users")]
    assert len(names) == 7 and any(not name.isascii() for name in names)  # accents, kept


def test_a_run_whose_users_all_fail_keeps_every_reason(clean):
    with psycopg.connect(clean, autocommit=True) as conn:
        conn.execute(FAILING_TRIGGER)
    result = manage(
        "generate_synthetic", "--patients", "8", "--seed", "1", "--concurrency", "1",
        env={"DATABASE_URL": clean}, check=False,
    )  # fmt: skip
    assert result.returncode == exitcodes.STOPPED, result.stderr
    assert "3 users in a row" in result.stderr and "Traceback" not in result.stderr
    entries = _q(clean, "SELECT state, failure_reason FROM synthadmin.synthadmin_syntheticuser")
    assert entries and all(state == "failed" and reason for state, reason in entries), entries
    assert any("signups are closed" in reason for _state, reason in entries)
    assert _q(clean, "SELECT status, error_summary <> '' FROM synthadmin.synthadmin_syntheticrun") == [
        ("failed", True)
    ]
    assert _q(clean, "SELECT count(*) FROM auth.users") == [(0,)]


def test_text_the_encoding_lacks_is_kept_escaped(clean):
    script = (
        "from synthadmin.services import ledger; from synthadmin.services.ledger import Starter; "
        "from synthadmin.models import SyntheticRun; import uuid; "
        "run = ledger.run_start(kind='generate', started_by=Starter('os:Иван'), parameters={}, seed=1, "
        "auth_backend='local'); "
        "entry = ledger.entry_intent(run=run, user_id=uuid.uuid4(), email='x@example.com', role='patient', "
        "attempt=1, job_index=0); "
        "ledger.entry_failed([entry.pk], 'refused — Иван Петров said “no”')"
    )
    result = manage("shell", "-c", script, env={"DATABASE_URL": clean}, check=False)
    assert result.returncode == 0, result.stderr
    assert _q(clean, "SELECT state, failure_reason FROM synthadmin.synthadmin_syntheticuser") == [
        (
            "failed",
            'refused - \\u0418\\u0432\\u0430\\u043d \\u041f\\u0435\\u0442\\u0440\\u043e\\u0432 said "no"',
        )
    ]
    assert _q(clean, "SELECT started_by FROM synthadmin.synthadmin_syntheticrun") == [
        ("os:\\u0418\\u0432\\u0430\\u043d",)
    ]
