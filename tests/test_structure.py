"""The house's shape, read from the code with ``ast``: no import circle among product modules
(imports inside functions included), the Supabase mirror apps import nothing of the product
above them, and no product module or function outgrows what one reader holds in mind
(the content engine, ``synthadmin/content/``, keeps its tables as they are)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("synthadmin", "profiles", "checkins")
#: The Supabase table mirrors: models, factories, SQL, migrations — the ground floor.
MIRRORS = ("profiles", "checkins")
#: What the mirrors may stand on besides each other: the pure content engine.
GROUND = ("synthadmin.content",)
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80
UNMEASURED = ("synthadmin.content",)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if not MODULES[module].name == "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(module: str) -> set[str]:
    """The product modules ``module`` imports, at any depth of its code."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            # ``from package import module`` imports the module; ``from module import name`` the module.
            names = [f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


GRAPH = {module: _imports(module) for module in MODULES}


def _circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return circles


def test_the_graph_is_read():
    # A parser that found nothing would pass every test below.
    assert len(MODULES) > 60
    assert "synthadmin.content" in GRAPH["checkins.models"]


def test_no_import_circle_among_product_modules():
    assert _circles() == []


def test_the_supabase_mirrors_import_nothing_above_them():
    up = {
        module: sorted(t for t in targets if not _within(t, (*MIRRORS, *GROUND)))
        for module, targets in GRAPH.items()
        if _within(module, MIRRORS)
    }
    assert {m: t for m, t in up.items() if t} == {}


def test_no_module_over_600_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for name, path in MODULES.items()
        if not _within(name, UNMEASURED)
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_over_80_lines():
    long = {}
    for name, path in MODULES.items():
        if _within(name, UNMEASURED):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.name}"] = length
    assert long == {}
