"""The embedded database works in any folder: a path with a space (``~/My Projects/…``, where the
wheel's unquoted ``pg_ctl -o "-k DIR"`` failed with an 83-line traceback), and one too long for a
Unix socket; its socket then lives in a short directory of its own, which nobody else may own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthadmin.db.embedded import (
    SOCKET_NAME,
    SOCKET_PATH_MAX,
    EmbeddedServerError,
    socket_dir_for,
    stop_server,
)
from tests.dbutil import manage

QUERY = (
    "from django.db import connection; connection.ensure_connection(); "
    "print(connection.connection.info.host); "
    "print(connection.cursor().execute('SELECT 1').fetchone()[0])"
)


@pytest.fixture
def home() -> Iterator[Path]:
    """A folder of the test's own under /tmp: the server runs as another user when the suite runs
    as root, and pytest's own temporary root is made private again by any other session starting."""
    path = Path(tempfile.mkdtemp(prefix="synthadmin-home-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("folder", ["My Projects/clinic db", "deep " + "x" * 90 + "/data"])
def test_the_embedded_database_starts_and_answers_in_the_folder(home: Path, folder: str):
    data_dir = home / folder
    env = {"SYNTHADMIN_DATA_DIR": str(data_dir), "DATABASE_URL": ""}
    try:
        result = manage("shell", "-c", QUERY, env=env, check=False)
        assert result.returncode == 0, result.stderr[-2000:]
        host, answer = result.stdout.split()[-2:]
        assert answer == "1"
        assert " " not in host and len(os.fsencode(Path(host) / SOCKET_NAME)) <= SOCKET_PATH_MAX
        assert manage("migrate", "--no-input", env=env).returncode == 0  # and again, reusing it
    finally:
        stop_server(data_dir)
        socket_dir = socket_dir_for(data_dir.resolve() / "pgdata")
        if socket_dir.name.startswith("synthadmin-pg-"):
            socket_dir.rmdir()


def test_a_plain_short_folder_keeps_its_socket_in_pgdata(tmp_path: Path):
    pgdata = tmp_path / "db" / "pgdata"
    assert socket_dir_for(pgdata) == pgdata


def test_a_socket_directory_someone_else_made_is_refused(tmp_path: Path):
    pgdata = tmp_path / "My Projects" / "pgdata"
    socket_dir = socket_dir_for(pgdata)
    socket_dir.rmdir()
    socket_dir.symlink_to(tmp_path)  # planted where ours would be
    try:
        with pytest.raises(EmbeddedServerError) as raised:
            socket_dir_for(pgdata)
        assert str(socket_dir) in str(raised.value) and "\n" not in str(raised.value)
    finally:
        socket_dir.unlink()
