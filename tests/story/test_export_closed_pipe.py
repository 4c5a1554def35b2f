"""``export_synthetic … | head -1`` (a real shell pipe): the command ends quietly with exit 141,
the shell's code for a program that SIGPIPE ended — no BrokenPipeError traceback."""

from __future__ import annotations

import shlex
import subprocess
import sys

from tests.dbutil import ROOT
from tests.ops.helpers import test_database_env
from tests.story.conftest import generate


def _piped(*args: str) -> subprocess.CompletedProcess:
    """``python manage.py export_synthetic ARGS | head -1`` in bash: the first line on stdout,
    the command's stderr, and its exit status (``PIPESTATUS``) as the return code."""
    command = " ".join(
        shlex.quote(a) for a in (sys.executable, str(ROOT / "manage.py"), "export_synthetic", *args)
    )
    return subprocess.run(
        ["bash", "-c", f"{command} | head -1; exit ${{PIPESTATUS[0]}}"],
        cwd=ROOT,
        env=test_database_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_head_ends_the_export_quietly_with_141(supabase_tables_cleanup):
    report = generate(patients=40, days=365, seed=3)  # a few MB: far more than a pipe holds

    quiet = _piped("--run", str(report.run_id), "-v", "0")
    chatty = _piped("--all", "--format", "jsonl")

    assert quiet.returncode == 141 and quiet.stderr == ""
    assert quiet.stdout.startswith("patient_id,run_id,") and quiet.stdout.count("\n") == 1
    assert chatty.returncode == 141 and "Traceback" not in chatty.stderr and "Error" not in chatty.stderr
    assert [line.split(" ")[:2] for line in chatty.stderr.splitlines()] == [["synthadmin:", "using"]]
