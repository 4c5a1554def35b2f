"""Every error a user can cause prints one line: no traceback, no SQL caret (``LINE 1:``);
``-v 2`` may show the details."""

from __future__ import annotations

import psycopg
import pytest

from synthadmin.management.output import one_line
from tests.dbutil import ROOT, admin_conninfo, database_url, manage, scratch_database


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("synthadmin: using")]


@pytest.mark.django_db
def test_a_database_error_is_one_line_and_v2_shows_the_details():
    with scratch_database("oneline") as name:
        # The app's tables are there (the target checks pass), synthadmin's never migrated.
        with psycopg.connect(admin_conninfo(name), autocommit=True) as conn:
            for path in (
                "profiles/sql/auth_schema.sql",
                "tests/sql/shapes/live.sql",
                "checkins/sql/check_ins_table.sql",
            ):
                conn.execute((ROOT / path).read_text())
        env = {"DATABASE_URL": database_url(name)}
        result = manage("generate_synthetic", "--patients", "1", env=env, check=False)
        assert result.returncode == 1
        lines = _error_lines(result.stderr)
        assert len(lines) == 1, result.stderr
        assert "does not exist" in lines[0]
        assert "LINE 1" not in result.stderr and "^" not in result.stderr and "Traceback" not in result.stderr
        detailed = manage("generate_synthetic", "--patients", "1", "-v", "2", env=env, check=False)
        assert detailed.returncode == 1
        assert "Traceback" in detailed.stderr and "LINE 1" in detailed.stderr


def test_purge_on_an_unreachable_database_is_one_line():
    result = manage(
        "purge_synthetic",
        "--all",
        "--yes",
        env={"DATABASE_URL": "postgresql://postgres@127.0.0.1:9/x"},
        check=False,
    )
    assert result.returncode == 1
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and "cannot use the database" in lines[0] and "DATABASE_URL" in lines[0]


def test_one_line_keeps_the_first_line_only():
    message = 'relation "x" does not exist\nLINE 1: SELECT * FROM x\n                      ^'
    assert one_line(message) == 'relation "x" does not exist'
    assert one_line("\n\n  spaced  \nmore") == "spaced"
