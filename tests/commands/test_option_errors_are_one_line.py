"""An option error (a typo, a missing value, exclusive options) is one line and exit 1 (bad input,
nothing written), in every synthadmin command — not argparse's usage dump and exit 2."""

from __future__ import annotations

import pytest

from tests.dbutil import database_url, manage


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ("generate_synthetic", "--bogus"),
        ("generate_synthetic", "--patients"),
        ("export_synthetic", "--all", "--format", "xml"),
        ("purge_synthetic", "--all", "--run", "x"),
        ("list_runs", "--nope"),
    ],
)
def test_option_errors(args):
    from django.db import connection

    result = manage(*args, env={"DATABASE_URL": database_url(connection.settings_dict["NAME"])}, check=False)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if not line.startswith("synthadmin: using")]
    assert len(lines) == 1 and lines[0].startswith("CommandError: ") and "--help" in lines[0]
