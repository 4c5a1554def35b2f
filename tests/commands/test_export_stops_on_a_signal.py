"""``export_synthetic --output F`` stopped by SIGTERM, SIGHUP or Ctrl-C part way (real
subprocesses, a failpoint delivering the signal right after a block reached the hidden partial
file): one line, exit 143 / 129 / 130, nothing at ``F`` and no ``.F.partial-…`` file left — the
README's promise that a failure part way leaves nothing. The export wrote nothing in the database."""

from __future__ import annotations

import signal

import pytest

from synthadmin.failpoints import ENV, EXPORT_AFTER_BLOCK
from synthadmin.models import SyntheticRun
from synthadmin.services.generation import population_generate
from synthadmin.services.ledger import Starter
from synthadmin.services.requests import GenerationRequest
from tests.invariants import assert_invariants
from tests.ops.helpers import finish, start_manage, test_database_env


@pytest.mark.parametrize(
    ("signum", "line"),
    [
        (signal.SIGTERM, "CommandError: stopped by SIGTERM; nothing kept"),
        (signal.SIGHUP, "CommandError: stopped by SIGHUP; nothing kept"),
        (signal.SIGINT, "CommandError: interrupted; nothing kept"),
    ],
)
def test_a_signal_part_way_leaves_no_file_and_says_so(real_population, tmp_path, signum, line):
    population_generate(request=GenerationRequest(patients=3, checkin_days=20), started_by=Starter("os:t"))
    runs = list(SyntheticRun.objects.values_list("id", "status", "finished_at"))
    target = tmp_path / "export.csv"
    env = test_database_env({ENV: f"{EXPORT_AFTER_BLOCK}:{signum.name}"})

    process = start_manage("export_synthetic", "--all", "--output", str(target), env=env)
    out, err = finish(process)

    assert process.returncode == 128 + signum, err
    assert err.strip().splitlines()[-1] == line, err
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []  # neither the file nor its hidden partial one
    assert list(SyntheticRun.objects.values_list("id", "status", "finished_at")) == runs
    assert_invariants(real_population)
