"""The project's layers, read from the source with `ast` (nothing is imported).

netinv (the core) knows nothing of the rest; audit (library code) uses the core, the params
schema and the MLflow helpers of stages, never another stage nor pipeline; stages never
import pipeline; and no module imports itself back through others at import time, not
even under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("netinv", "stages", "pipeline", "audit")
AUDIT_MAY_USE = {"stages.config", "stages.schema", "stages.tracking"}


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the project's packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules an import statement in `module` loads (`from a import b`: a.b when
    that is a module, else a)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[:len(package) - node.level + 1]
            base = ".".join(filter(None, [*package, base]))
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    found = set()
    for name in names:
        parts = name.split(".")
        while parts and ".".join(parts) not in known:  # a name inside a module: the module
            parts.pop()
        if parts:
            found.add(".".join(parts))
    return found


def module_level(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is imported: anywhere but inside a function
    (so under `if TYPE_CHECKING:`, `try:` and class bodies too)."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        else:
            todo.extend(ast.iter_child_nodes(node))


def all_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    yield from (n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom))


def imports_of(modules: dict[str, Path], *, everywhere: bool) -> dict[str, set[str]]:
    known = set(modules)
    out = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        statements = all_imports(tree) if everywhere else module_level(tree)
        out[name] = set().union(*(targets(s, name, path.name == "__init__.py", known) for s in statements))
    return out


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules its import runs. Importing a.b.c runs a/__init__ and a/b/__init__
    first: those are edges too, except for packages the importer is already inside."""
    graph: dict[str, set[str]] = {}
    for name, imported in imports_of(modules, everywhere=False).items():
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        edges = set()
        for target in imported:
            parts = target.split(".")
            edges |= {p for p in (".".join(parts[:i]) for i in range(1, len(parts) + 1)) if p not in own}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def imports() -> dict[str, set[str]]:
    return imports_of(project_modules(), everywhere=True)


def offending(imports: dict[str, set[str]], layer: str, allowed) -> dict[str, list[str]]:
    return {m: sorted(t for t in ts if not allowed(t)) for m, ts in imports.items()
            if m.split(".")[0] == layer and any(not allowed(t) for t in ts)}


def test_the_core_imports_no_other_layer(imports):
    assert not offending(imports, "netinv", lambda t: t.split(".")[0] == "netinv")


def test_audit_imports_only_the_core_the_params_schema_and_tracking(imports):
    assert not offending(imports, "audit", lambda t: t.split(".")[0] in ("netinv", "audit") or t in AUDIT_MAY_USE)


def test_stages_never_import_pipeline(imports):
    assert not offending(imports, "stages", lambda t: t.split(".")[0] != "pipeline")


def test_no_import_cycle():
    graph = import_graph(project_modules())
    assert {"audit.engine", "stages.config", "pipeline.audit"} <= set(graph)  # the walk found the project
    assert not cycles(graph)


def test_the_checks_see_type_checking_imports_package_inits_and_relative_imports(tmp_path):
    files = {
        "audit/__init__.py": "from audit.engine import run\n",  # a re-export...
        "audit/engine.py": "from stages.config import Params\ndef run(): ...\n",
        "audit/config.py": "",
        "stages/__init__.py": "",
        "stages/config.py": "from audit.config import X\n",  # ...runs audit/__init__ first: a loop
        "stages/audit.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from stages import report\n",
        "stages/report.py": "from . import audit\ndef f():\n    import pipeline.x\n",
        "pipeline/__init__.py": "",
        "pipeline/x.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    modules = project_modules(tmp_path)
    graph = import_graph(modules)
    assert {frozenset(c) for c in cycles(graph)} == {frozenset({"audit", "audit.engine", "stages.config"}),
                                                     frozenset({"stages.audit", "stages.report"})}
    assert "pipeline.x" in imports_of(modules, everywhere=True)["stages.report"]  # the layer rules see it
    assert "pipeline.x" not in graph["stages.report"]  # a function's import runs later: no import-time edge
