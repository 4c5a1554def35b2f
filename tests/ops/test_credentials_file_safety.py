"""``--credentials-out`` never follows a symbolic link, never replaces a file unless --force, and
reports OS errors in one line (exit 1) before anything is written to the database."""

from __future__ import annotations

import os
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from synthadmin.models import SyntheticRun
from tests.invariants import assert_invariants, synthetic_counts


def _call(*args: str) -> None:
    call_command(
        "generate_synthetic",
        "--patients",
        "2",
        "--checkins",
        "3",
        *args,
        stdout=StringIO(),
        stderr=StringIO(),
    )


def _refused(*args: str) -> str:
    with pytest.raises(CommandError) as info:
        _call(*args)
    assert info.value.returncode == 1
    text = str(info.value)
    assert "\n" not in text
    assert SyntheticRun.objects.count() == 0
    assert synthetic_counts() == {"patients": 0, "therapists": 0, "checkins": 0, "auth_users": 0}
    return text


def test_symlink_to_an_outside_file_is_refused_and_the_target_untouched(real_population, tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("someone else's file\n")
    outside.chmod(0o644)
    link = tmp_path / "creds.csv"
    link.symlink_to(outside)
    for extra in ((), ("--force",)):
        text = _refused("--credentials-out", str(link), *extra)
        assert "symbolic link" in text
    assert outside.read_text() == "someone else's file\n"
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644
    assert_invariants(real_population)


def test_dangling_symlink_is_refused_and_its_target_not_created(real_population, tmp_path: Path):
    target = tmp_path / "nowhere.csv"
    link = tmp_path / "creds.csv"
    link.symlink_to(target)
    assert "symbolic link" in _refused("--credentials-out", str(link))
    assert not target.exists() and link.is_symlink()


def test_existing_file_is_refused_unless_force(real_population, tmp_path: Path):
    earlier = tmp_path / "creds.csv"
    earlier.write_text("email,password,role,user_id\nold@example.com,only-copy,patient,x\n")
    text = _refused("--credentials-out", str(earlier))
    assert "already exists" in text and "--force" in text
    assert "only-copy" in earlier.read_text()
    _call("--credentials-out", str(earlier), "--force")
    assert "only-copy" not in earlier.read_text()
    assert stat.S_IMODE(os.stat(earlier).st_mode) == 0o600
    assert synthetic_counts()["patients"] == 2
    assert_invariants(real_population)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/proc/version", "already exists"),
        ("/", "is a directory"),
        ("/nonexistent-dir/creds.csv", "does not exist"),
    ],
)
def test_os_errors_are_one_line_before_anything_is_written(real_population, path, expected):
    assert expected in _refused("--credentials-out", path)


def test_proc_file_with_force_is_one_line_too(real_population):
    text = _refused("--credentials-out", "/proc/version", "--force")
    assert "/proc/version" in text and "cannot replace" in text
