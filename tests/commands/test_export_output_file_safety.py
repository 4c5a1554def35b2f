"""``export_synthetic --output`` never overwrites a file nor writes through a link (a credentials
file may hold the only copy of passwords); OS errors are one line."""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def _export(*args: str) -> None:
    call_command("export_synthetic", "--all", *args, stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_existing_files_and_links_are_refused_and_left_as_they_were(tmp_path):
    precious = tmp_path / "creds.csv"
    precious.write_text("email,password\na@example.com,secret\n")
    link = tmp_path / "link.csv"
    os.symlink(precious, link)
    for target, words in ((precious, "already exists"), (link, "symbolic link")):
        with pytest.raises(CommandError, match=words):
            _export("--output", str(target))
    with pytest.raises(CommandError, match="symbolic link"):
        _export("--output", str(link), "--force")
    assert precious.read_text() == "email,password\na@example.com,secret\n"
    with pytest.raises(CommandError, match="does not exist"):
        _export("--output", str(tmp_path / "no" / "x.csv"))
    _export("--output", str(precious), "--force")  # replacing a regular file needs --force
    assert precious.read_text().startswith("patient_id,")
