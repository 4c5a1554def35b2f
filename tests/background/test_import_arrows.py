"""Background work's arrows point down: tasks call services, services never import the tasks
module, purge imports no background work, and nothing in the services or the commands imports
inside a function (a circle hidden there is a circle all the same) — but what only building
people and histories needs (numpy, Faker, factory_boy and the factories over them), which a
process that builds none never loads (``tests/test_startup.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.dbutil import ROOT

SERVICES = ROOT / "synthadmin" / "services"
BACKGROUND = {"chunks", "cancel", "dispatch", "workers", "progress"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(module, inside a function)`` for every import of the file."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, inside: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = inside or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((alias.name, inside) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                found.append((child.module, inside))
                found.extend((f"{child.module}.{a.name}", inside) for a in child.names)
            visit(child, nested)

    visit(ast.parse(path.read_text()), False)
    return found


def test_services_never_import_the_tasks_module():
    for path in SERVICES.glob("*.py"):
        assert not [m for m, _ in _imports(path) if m.startswith("synthadmin.tasks")], path.name


def test_purge_imports_no_background_work():
    modules = {m for m, _ in _imports(SERVICES / "purge.py")}
    assert not {f"synthadmin.services.{name}" for name in BACKGROUND} & modules


#: Loaded on use, never at start-up: the libraries that build people and histories, and the
#: factories over them. None imports a module of the services or the commands (no circle).
ON_USE = ("numpy", "faker", "factory", "profiles.factories")


def _on_use(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in ON_USE)


def test_no_import_inside_a_function_in_the_services_tasks_or_commands():
    paths = [
        *SERVICES.glob("*.py"),
        ROOT / "synthadmin" / "tasks.py",
        *(ROOT / "synthadmin" / "management").rglob("*.py"),
    ]
    local = {(path.name, m) for path in paths for m, inside in _imports(path) if inside and not _on_use(m)}
    assert local == set()
