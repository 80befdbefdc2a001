"""Rewrite each stage's code deps in dvc.yaml and ablation/dvc.yaml to its import closure.

A stage must depend on every project module it imports (tests/unit/test_dvc_deps.py checks
it), or a code change leaves stale outputs; it should depend on nothing else, or an unrelated
edit reruns a 10-minute stage. Run after adding or removing imports:

    python scripts/sync_dvc_deps.py && dvc status

Non-code deps (data, models, outputs) keep their place at the top of each list. Packages
whose modules all belong together (netinv/config, netinv/data, netinv/validation) appear as
one folder. Uses ruamel.yaml (a DVC dependency) so comments and layout survive.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.unit.test_dvc_deps import closure, stages  # noqa: E402

CODE_ROOTS = ("netinv", "stages", "audit")
FOLDERS = ("netinv/config", "netinv/data", "netinv/validation")


def code_deps(module: str) -> list[str]:
    deps = set()
    for path in closure(ROOT, module):
        text = str(path)
        folder = next((f for f in FOLDERS if text.startswith(f + "/")), None)
        deps.add(folder or text)
    return sorted(deps)


def sync(dvc_file: Path) -> int:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 120
    yaml.indent(mapping=2, sequence=2, offset=0)
    spec = yaml.load(dvc_file.read_text())
    changed = 0
    found = {name.split(":", 1)[1]: (module, wdir) for name, module, wdir, _ in stages(ROOT, dvc_file)}
    for name, (module, wdir) in found.items():
        body = spec["stages"][name]
        body = body.get("do", body)
        old = list(body["deps"])
        data = [d for d in old if not str(d).startswith(CODE_ROOTS)]
        new = data + [os.path.relpath(ROOT / d, wdir) for d in code_deps(module)]
        if new != old:
            body["deps"] = new
            changed += 1
    if changed:
        with dvc_file.open("w") as f:
            yaml.dump(spec, f)
    return changed


if __name__ == "__main__":
    for name in ("dvc.yaml", "ablation/dvc.yaml"):
        print(f"{name}: {sync(ROOT / name)} stage(s) updated")
