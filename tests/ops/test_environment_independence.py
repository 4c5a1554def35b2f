"""What the suite asserts does not depend on the developer's environment: a ``.env`` (README
command 1 creates one, with DJANGO_DEBUG=1), exported SYNTHADMIN_*/SUPABASE_*/DJANGO_* variables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.dbutil import ROOT, manage_env

DEVELOPER_ENV = {
    "DJANGO_DEBUG": "1",
    "DJANGO_TIME_ZONE": "UTC",
    "SYNTHADMIN_AUTH_CONCURRENCY": "9",
    "SYNTHADMIN_AUTH_BACKEND": "supabase",
    "SUPABASE_URL": "https://developer.supabase.co",
}
PRINT = (
    "import {module} as s; "
    "print(s.DEBUG, s.TIME_ZONE, s.SYNTHADMIN_AUTH_CONCURRENCY, s.SYNTHADMIN_AUTH_BACKEND, s.SUPABASE_URL or '-')"
)


def _project_copy(tmp_path: Path) -> Path:
    """The settings modules in a project of their own, with a developer's .env beside them."""
    project = tmp_path / "proj"
    for package in ("synthadmin", "tests"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text("")
    shutil.copy(ROOT / "synthadmin" / "settings.py", project / "synthadmin" / "settings.py")
    shutil.copy(ROOT / "synthadmin" / "logs.py", project / "synthadmin" / "logs.py")
    shutil.copy(ROOT / "tests" / "settings.py", project / "tests" / "settings.py")
    shutil.copy(ROOT / ".env.example", project / ".env")  # README command 1: cp -n .env.example .env
    with (project / ".env").open("a") as env_file:
        env_file.write("SYNTHADMIN_AUTH_CONCURRENCY=7\nDJANGO_TIME_ZONE=Europe/Lisbon\n")
    return project


def _run(project: Path, module: str, env: dict[str, str]) -> str:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(project)}
    base.update(env)
    result = subprocess.run(
        [sys.executable, "-c", PRINT.format(module=module)],
        cwd=project,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_test_settings_ignore_dotenv_and_exported_variables(tmp_path: Path):
    project = _project_copy(tmp_path)
    clean = _run(project, "tests.settings", {})
    assert clean == "False America/Sao_Paulo 4 local -"
    assert _run(project, "tests.settings", DEVELOPER_ENV) == clean


def test_project_settings_still_read_dotenv_and_honour_synthadmin_env_file(tmp_path: Path):
    project = _project_copy(tmp_path)
    env = {"DJANGO_SECRET_KEY": "x"}
    assert _run(project, "synthadmin.settings", env).split()[:3] == ["True", "Europe/Lisbon", "7"]
    # Empty: no file at all.
    assert _run(project, "synthadmin.settings", {**env, "SYNTHADMIN_ENV_FILE": ""}).split()[:3] == [
        "False",
        "America/Sao_Paulo",
        "4",
    ]
    other = tmp_path / "other.env"
    other.write_text("SYNTHADMIN_AUTH_CONCURRENCY=3\n")
    assert _run(project, "synthadmin.settings", {**env, "SYNTHADMIN_ENV_FILE": str(other)}).split()[2] == "3"


def test_manage_subprocesses_get_a_clean_environment(monkeypatch):
    for name, value in DEVELOPER_ENV.items():
        monkeypatch.setenv(name, value)
    env = manage_env()
    assert env["SYNTHADMIN_ENV_FILE"] == ""
    assert not {name for name in env if name.startswith(("SYNTHADMIN_", "SUPABASE_", "DJANGO_"))} - {
        "SYNTHADMIN_ENV_FILE",
        "DJANGO_SECRET_KEY",
        "DJANGO_SETTINGS_MODULE",
    }
