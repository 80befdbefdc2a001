"""Every module a stage imports is a dependency of that stage in dvc.yaml.

Otherwise a code change would not rerun the stage and `dvc repro` would keep stale
outputs. Imports are followed through the project's own modules (netinv, stages, audit).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

PACKAGES = ("netinv", "stages", "audit")  # audit: stages/config.py reads its `audit` section from audit.config


def module_file(root: Path, name: str) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def project_imports(root: Path, path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    found = set()
    for name in names:
        if name.split(".")[0] in PACKAGES:
            parts = name.split(".")
            # `from pkg import mod` names a module or an attribute: keep what exists as a file.
            for i in range(len(parts), 0, -1):
                if module_file(root, ".".join(parts[:i])) is not None:
                    found.add(".".join(parts[:i]))
                    break
    return found


def closure(root: Path, module: str) -> set[Path]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py too.
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        path = module_file(root, name)
        if path is not None:
            todo.extend(project_imports(root, path) - seen)
    files = {module_file(root, name) for name in seen}
    return {f.relative_to(root) for f in files if (f is not None and f.name != "__init__.py") or
            (f is not None and f.read_text().strip() and "import" in f.read_text())}


def stages(root: Path, dvc_file: Path):
    spec = yaml.safe_load(dvc_file.read_text())["stages"]
    for name, stage in spec.items():
        body = stage.get("do", stage)
        match = re.search(r"python -m (stages\.\w+)", body["cmd"])
        if match:
            wdir = (dvc_file.parent / body.get("wdir", ".")).resolve()
            yield f"{dvc_file.relative_to(root)}:{name}", match.group(1), wdir, body.get("deps", [])


@pytest.mark.parametrize("dvc_file", ["dvc.yaml", "ablation/dvc.yaml"])
def test_every_imported_module_is_a_dependency(project_root, dvc_file):
    missing = {}
    for stage, module, wdir, deps in stages(project_root, project_root / dvc_file):
        dep_paths = [(wdir / d).resolve().relative_to(project_root) for d in deps]
        for path in closure(project_root, module):
            if not any(path == d or d in path.parents for d in dep_paths):
                missing.setdefault(stage, []).append(str(path))
    assert not missing, f"add these to the stages' deps: {missing}"
