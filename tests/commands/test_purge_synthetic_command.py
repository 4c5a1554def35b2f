"""``manage.py purge_synthetic``: --run / --all, --dry-run, confirmation (read from stdin), never real
patients."""

from __future__ import annotations

import json
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from synthadmin.models import SyntheticRun
from tests.invariants import assert_invariants, synthetic_counts


def _purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_synthetic", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _generate(patients: int) -> str:
    out = StringIO()
    call_command("generate_synthetic", "--patients", str(patients), "--checkins", "5", "--json", stdout=out)
    return json.loads(out.getvalue())["run_id"]


def test_purge_one_run_then_all(real_population):
    first, second = _generate(2), _generate(3)

    preview = _purge("--run", first, "--dry-run")
    assert "would delete" in preview and "Purge (dry run" in preview
    assert synthetic_counts()["patients"] == 5

    done = _purge("--run", first, "--yes")
    assert "users deleted" in done and " 2 " in done
    assert synthetic_counts()["patients"] == 3
    assert SyntheticRun.objects.get(pk=first).purged_at is not None
    assert _purge("--run", first, "--yes").strip() == "Nothing to purge."  # and no table

    report = json.loads(_purge("--all", "--yes", "--json"))
    assert report["users_deleted"] == 3 and report["runs"] == [second]
    assert synthetic_counts()["patients"] == 0
    assert "Nothing to purge." in _purge("--all", "--yes")
    assert_invariants(real_population)


def test_refuses_without_confirmation_when_not_on_a_terminal(real_population):
    _generate(1)
    with pytest.raises(CommandError, match="refusing to purge without confirmation"):
        _purge("--all")
    assert synthetic_counts()["patients"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say what to purge: --run ID"),
        (["--run", "not-a-uuid"], "--run: not a run id"),
        (["--run", str(uuid.UUID(int=1))], "--run: no synthadmin run with id"),
    ],
)
def test_bad_arguments(real_population, args, message):
    _generate(1)
    with pytest.raises(CommandError, match=message) as info:
        _purge(*args)
    assert info.value.returncode == 1
    assert synthetic_counts()["patients"] == 1
    assert_invariants(real_population)


class _Terminal(StringIO):
    """Standard input as a person at a terminal would give it."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "left"), [("yes\n", 0), ("no\n", 1), ("", 1)])
def test_on_a_terminal_it_asks_and_reads_the_answer_from_stdin(real_population, answer, left):
    _generate(1)
    out = StringIO()
    if left:
        with pytest.raises(CommandError, match="purge cancelled; nothing was deleted"):
            call_command("purge_synthetic", "--all", stdin=_Terminal(answer), stdout=out, stderr=StringIO())
    else:
        call_command("purge_synthetic", "--all", stdin=_Terminal(answer), stdout=out, stderr=StringIO())
    assert "This deletes 1 synthetic user(s)" in out.getvalue() and "Type 'yes' to continue" in out.getvalue()
    assert synthetic_counts()["patients"] == left
    assert_invariants(real_population)
