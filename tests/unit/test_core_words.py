"""The core (netinv/) says its fixes in its own terms: no params.yaml, no DVC, no params keys.

The stage layer adds those (stages/runner.py: explain). Docstrings may mention the pipeline
(netinv/__init__.py says the core knows nothing of it); every other string constant, the
messages of errors included, may not.
"""

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _params_keys() -> set[str]:
    """Every dotted key of params.yaml below a section (`invert.lr`, `reconstruct.target.lr`, ...)."""
    keys: set[str] = set()

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                dotted = f"{prefix}.{key}" if prefix else str(key)
                if prefix:
                    keys.add(dotted)
                walk(value, dotted)

    walk(yaml.safe_load((ROOT / "params.yaml").read_text()), "")
    return keys


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_core_strings_name_no_pipeline_file_command_or_key():
    keys = _params_keys()
    pipeline = re.compile(r"params\.ya?ml|\bdvc\b", re.IGNORECASE)
    dotted = re.compile(r"(?<![\w./])[a-z_]+(?:\.[a-z_]+)+")
    offenders = []
    for path in sorted((ROOT / "netinv").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings:
                continue
            words = [m.group(0) for m in pipeline.finditer(node.value)]
            words += [m.group(0) for m in dotted.finditer(node.value) if m.group(0) in keys]
            if words:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {words}")
    assert not offenders, "pipeline words in the core (say the core field; stages/runner.py adds the key):\n" + \
        "\n".join(offenders)
