"""The wheel's ``.handle_pids.json`` (which processes hold the server) left empty or garbled —
a signal between its truncate and its write did it once — no longer breaks every later command:
it is read as "no handles" and written again whole, and synthadmin's writes of it are atomic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthadmin.db.embedded import HandleList
from tests.dbutil import embedded_directory, manage
from tests.test_embedded_database import QUERY, _postmaster_pid, _stop


@pytest.fixture(scope="module")
def embedded_server() -> Iterator[tuple[dict[str, str], Path]]:
    """One embedded server for the module (its first start is not the subject here): the
    environment naming it and its data directory."""
    with embedded_directory() as directory:
        data_dir = directory / "localdb"
        env = {"SYNTHADMIN_DATA_DIR": str(data_dir), "DATABASE_URL": ""}
        try:
            manage("migrate", "--no-input", env=env)
            yield env, data_dir
        finally:
            _stop(data_dir)


@pytest.mark.parametrize("content", ["", "[12, 3", "not json\x00", '{"pids": [1]}', '["a"]'])
def test_commands_work_with_an_empty_or_garbled_handle_file(
    embedded_server: tuple[dict[str, str], Path], content: str
):
    env, data_dir = embedded_server
    handles = data_dir / "pgdata" / ".handle_pids.json"
    server = _postmaster_pid(data_dir)
    handles.write_text(content)
    result = manage("shell", "-c", QUERY, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "JSONDecodeError" not in result.stderr
    notes = [line for line in result.stderr.splitlines() if ".handle_pids.json" in line]
    assert len(notes) == 1 and "unreadable" in notes[0], result.stderr
    assert _postmaster_pid(data_dir) == server  # the same server, reused
    # Rebuilt whole: a JSON list of pids (the command's own pid removed again at its exit).
    rebuilt = json.loads(handles.read_text())
    assert isinstance(rebuilt, list) and all(isinstance(pid, int) for pid in rebuilt)
    again = manage("migrate", "--no-input", env=env)
    assert "No migrations to apply." in again.stdout
    assert ".handle_pids.json" not in again.stderr  # the note only when it was needed
    status = manage("embedded_postgres", "status", env=env)
    assert status.stdout.strip() == f"running (pid {server}) in {data_dir}"


def test_handle_list_reads_a_bad_file_as_empty_and_writes_atomically(tmp_path: Path):
    path = tmp_path / ".handle_pids.json"
    handles = HandleList(path)
    assert handles.get() == []  # missing
    path.write_text("")
    assert handles.get() == []
    assert handles.get_and_add(41) == []
    assert json.loads(path.read_text()) == [41]
    before = path.stat().st_ino
    handles.get_and_add(42)
    assert json.loads(path.read_text()) == [41, 42]
    assert path.stat().st_ino != before  # replaced, not truncated in place
    assert handles.get_and_remove(41) == [41, 42]
    assert json.loads(path.read_text()) == [42]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".handle_pids.json"]  # no temp file left
