"""Scenario files as operators' editors save them, and as nobody should: a UTF-8 byte order mark
(Notepad, PowerShell) is read; hostile TOML (nested 500 deep, huge strings, a huge file, a
60,000-digit number, not UTF-8) gets one line and saves nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from synthadmin.models import Scenario
from tests.dbutil import manage
from tests.ops.helpers import test_database_env

pytestmark = pytest.mark.django_db(transaction=True)

SCENARIO = '[scenario]\nname = "bom-clinic"\ntherapists = 1\npatients = 3\ncheckin_days = 5\n'


def _import(path) -> str:
    out = StringIO()
    call_command("scenario", "import", str(path), stdout=out, stderr=StringIO())
    return out.getvalue()


def _refused(path) -> str:
    with pytest.raises(CommandError) as raised:
        _import(path)
    message = str(raised.value)
    assert "\n" not in message and len(message) < 300, message
    return message


def test_a_file_with_a_utf8_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "notepad.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SCENARIO.encode())
    assert _import(path) == "scenario bom-clinic saved\n"
    assert Scenario.objects.get(name="bom-clinic").patients == 3


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[scenario]\nname = 'deep'\nmix = " + "[" * 500 + "]" * 500 + "\n", "nested too deep"),
        ('[scenario]\nname = "' + "x" * 100_000 + '"\n', "a scenario is at most 65,536 characters"),
        ("[scenario]\nname = 'big'\nseed = " + "9" * 60_000 + "\n", "a value cannot be read"),
        ("[scenario]\nname = 5\n", "name must be text"),
        ('[scenario]\nname = "' + "n" * 300 + '"\ntherapists = 1\npatients = 1\n', "name:"),
        ("[scenario]\nname = 'typed'\npatients = 'many'\n", "patients"),
        ("[scenario]\nname = 'odd'\nmix = 'stable'\n", "mix"),
        (SCENARIO.replace("bom-clinic", "nul\\u0000clinic"), "name must not contain a NUL character"),
        (SCENARIO + 'description = "a\\u0000b"\n', "description must not contain a NUL character"),
        (SCENARIO + 'locale = "pt_BR\\u0000"\n', "locale must not contain a NUL character"),
        (SCENARIO + "[other]\nx = 1\n", "unknown table(s) or key(s) outside [scenario]: other"),
        ("stray = 1\n" + SCENARIO, "unknown table(s) or key(s) outside [scenario]: stray"),
    ],
    ids=[
        "500-deep",
        "huge-string",
        "huge-number",
        "name-number",
        "long-name",
        "patients-text",
        "mix-text",
        "nul-in-name",
        "nul-in-description",
        "nul-in-locale",
        "other-table",
        "top-level-key",
    ],
)
def test_hostile_toml_gets_one_line_and_saves_nothing(tmp_path, content, words):
    path = tmp_path / "hostile.toml"
    path.write_text(content, encoding="utf-8")
    before = Scenario.objects.count()
    assert words in _refused(path)
    assert Scenario.objects.count() == before


def test_a_huge_file_is_refused_by_its_size(tmp_path):
    path = tmp_path / "huge.toml"
    with path.open("wb") as handle:
        handle.write(b"# " + b"x" * (8 * 1024 * 1024) + b"\n")
    assert "a scenario is at most 65,536 characters" in _refused(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(SCENARIO.replace("bom-clinic", "cl\xednica").encode("latin-1"))
    assert "not UTF-8 text" in _refused(path)


def test_deep_nesting_through_manage_py_prints_one_line(tmp_path):
    """The report: a 3,000-line RecursionError. Now: one line, exit 1."""
    path = tmp_path / "deep.toml"
    path.write_text("[scenario]\nname = 'deep'\nmix = " + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    result = manage("scenario", "import", str(path), env=test_database_env(), check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
