"""``deploy/`` runs exactly the README's commands: the Procfile's ``web`` and ``worker`` and the
systemd units' ``ExecStart`` are the blocks after ``<!-- deploy:serve-command -->`` and
``<!-- deploy:worker-command -->`` (issue 22, item 1)."""

from __future__ import annotations

import configparser
import re

from tests.dbutil import ROOT
from tests.deploy.conftest import readme_command

DEPLOY = ROOT / "deploy"


def _procfile() -> dict[str, str]:
    entries = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def _exec_start(unit: str) -> str:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string((DEPLOY / unit).read_text())
    command = parser["Service"]["ExecStart"]
    # /bin/sh -c 'exec COMMAND': the virtualenv's PATH (Environment=PATH=...) finds the programs.
    match = re.fullmatch(r"/bin/sh -c 'exec (.+)'", command)
    assert match, f"{unit}: ExecStart={command}"
    return match.group(1)


def test_the_procfile_runs_the_readme_commands():
    entries = _procfile()
    assert entries["web"] == readme_command("deploy:serve-command")
    assert entries["worker"] == readme_command("deploy:worker-command")


def test_the_systemd_units_run_the_readme_commands():
    assert _exec_start("synthadmin-web.service") == readme_command("deploy:serve-command")
    assert _exec_start("synthadmin-worker.service") == readme_command("deploy:worker-command")


def test_the_readme_serve_command_uses_the_config_in_deploy():
    command = readme_command("deploy:serve-command")
    assert command.startswith("gunicorn ") and "deploy/gunicorn.conf.py" in command
    assert (DEPLOY / "gunicorn.conf.py").is_file()
