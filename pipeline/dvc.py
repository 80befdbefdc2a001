"""DVC from the flows: the stage list from dvc.yaml, and one stage run through the `dvc` CLI.

The stage names are read from dvc.yaml itself, so a stage added there (ood, reconstruct,
report, ...) is picked up without touching the flow; `foreach` stages expand to
`NAME@KEY` as DVC names them. The order is dvc.yaml's, corrected to a topological one
(a stage runs after every stage whose outputs it depends on). DVC's Python API is
internal: stages run as `dvc repro --single-item STAGE`, output streamed line by line.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netinv.errors import NetinvError


class StageFailed(NetinvError):
    """`dvc repro` of a stage exited non-zero; the message holds the stage and the last output."""

    def __init__(self, stage: str, returncode: int, tail: str) -> None:
        super().__init__(f"stage {stage} failed (dvc exit code {returncode}):\n{tail}")
        self.stage = stage
        self.returncode = returncode
        self.tail = tail


@dataclass(frozen=True)
class Stage:
    name: str  # as DVC names it: prepare, train@classifier, ...
    deps: tuple[str, ...]
    outs: tuple[str, ...]


def _paths(entries: Iterable[Any]) -> list[str]:
    """dvc.yaml deps / outs entries (strings or {path: options}) -> paths."""
    out = []
    for entry in entries or []:
        out.extend([entry] if isinstance(entry, str) else list(entry))
    return out


def _substitute(value: Any, variables: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        for name, replacement in variables.items():
            value = value.replace("${" + name + "}", str(replacement))
        return value
    if isinstance(value, list):
        return [_substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {_substitute(k, variables): _substitute(v, variables) for k, v in value.items()}
    return value


def _expand(name: str, spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    if "foreach" not in spec:
        return [(name, spec)]
    items = spec["foreach"]
    expanded = []
    pairs = items.items() if isinstance(items, Mapping) else ((item, item) for item in items)
    for key, item in pairs:
        variables = {"key": key, "item": item}
        if isinstance(item, Mapping):
            variables.update({f"item.{k}": v for k, v in item.items()})
        expanded.append((f"{name}@{key}", _substitute(spec["do"], variables)))
    return expanded


def _covers(out: str, dep: str) -> bool:
    out, dep = out.rstrip("/"), dep.rstrip("/")
    return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")


def pipeline_stages(dvc_file: str | Path = "dvc.yaml") -> list[Stage]:
    """The stages of `dvc_file` in an order DVC can run them one by one."""
    path = Path(dvc_file)
    try:
        spec = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise NetinvError(f"{path} not found: run the flow from the project root") from exc
    if "matrix" in str(spec.get("stages", {})):
        raise NetinvError(f"{path} uses `matrix` stages, which pipeline.dvc does not expand yet")
    listed = [Stage(n, tuple(_paths(s.get("deps"))),
                    tuple(_paths(s.get("outs"))) + tuple(_paths(s.get("metrics"))) + tuple(_paths(s.get("plots"))))
              for name, body in (spec.get("stages") or {}).items() for n, s in _expand(name, body)]
    ordered: list[Stage] = []
    remaining = list(listed)
    while remaining:
        for stage in remaining:
            upstream = [o for o in remaining if o is not stage and any(_covers(out, dep) for out in o.outs
                                                                        for dep in stage.deps)]
            if not upstream:
                ordered.append(stage)
                remaining.remove(stage)
                break
        else:
            raise NetinvError(f"{path}: the stages {[s.name for s in remaining]} form a dependency cycle")
    return ordered


def changed_stages(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> set[str] | None:
    """The stages `dvc status` reports as changed, or None when it cannot tell (then run all)."""
    result = subprocess.run(["dvc", "status", "--json"], cwd=cwd, env=dict(env) if env else None,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return None
    try:
        status = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        return None
    return {name.rpartition(":")[2] for name in status}


def repro_stage(stage: str, on_line: Callable[[str], None], cwd: Path | None = None,
                env: Mapping[str, str] | None = None) -> list[str]:
    """Run `dvc repro --single-item STAGE`; every output line goes to `on_line`; returns the lines.

    Raises StageFailed on a non-zero exit, with the last 40 lines.
    """
    process = subprocess.Popen(["dvc", "repro", "--single-item", stage], cwd=cwd,
                               env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: list[str] = []
    assert process.stdout is not None  # PIPE was requested
    for raw in process.stdout:
        line = raw.rstrip("\n")
        lines.append(line)
        on_line(line)
    code = process.wait()
    if code != 0:
        raise StageFailed(stage, code, "\n".join(lines[-40:]))
    return lines


def outcome(stage: str, lines: Iterable[str]) -> str:
    """ran | skipped | restored, from DVC's own words."""
    text = "\n".join(lines)
    if "didn't change, skipping" in text:
        return "skipped"
    if "from run-cache" in text:
        return "restored"
    return "ran"


def lock_hash(path: str | Path = "dvc.lock") -> str | None:
    """sha256 of dvc.lock: which data, code and params the outputs come from."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
