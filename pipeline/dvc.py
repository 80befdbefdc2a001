"""DVC from the flows: the stage order from DVC's own graph, and one stage run through the `dvc` CLI.

DVC's Python API is internal, so the CLI is the contract: the flow's stages are `dvc stage list
--name-only dvc.yaml` (foreach expanded as DVC names them: train@classifier), ordered after the
edges of `dvc dag --dot`, ties broken by DVC's listing order (ablation/ is a DVC project of its
own: neither in DVC's graph nor in the flow). Stages run as `dvc repro --single-item STAGE`, output
streamed line by line; what a stage wrote is read from dvc.lock, DVC's own record of it.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from netinv.errors import NetinvError


class DvcError(NetinvError):
    """The `dvc` CLI is missing, is not in a DVC repository, or refused the pipeline."""


class StageFailed(DvcError):
    """`dvc repro` of a stage exited non-zero; the message holds the stage and the last output."""

    def __init__(self, stage: str, returncode: int, tail: str) -> None:
        super().__init__(f"stage {stage} failed (dvc exit code {returncode}):\n{tail}")
        self.stage = stage
        self.returncode = returncode
        self.tail = tail


@dataclass(frozen=True)
class Stage:
    name: str  # as DVC names it: prepare, train@classifier, ...


def _dvc() -> str:
    """The `dvc` of this interpreter's environment, else the one on PATH."""
    beside = Path(sys.executable).with_name("dvc")
    if found := str(beside) if beside.is_file() else shutil.which("dvc"):
        return found
    raise DvcError("the `dvc` command was not found: run `make setup` and use the project's .venv")


def _run(args: list[str], cwd: Path | None) -> str:
    result = subprocess.run([_dvc(), *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return result.stdout
    message = (result.stderr or result.stdout).strip()
    if "not inside of a DVC repository" in message:
        raise DvcError(f"{Path(cwd or '.').resolve()} is not in a DVC repository: run from the project root "
                       "(the folder with .dvc/), or `dvc init` there")
    raise DvcError(f"`dvc {' '.join(args)}` failed (exit code {result.returncode}): {message}\n"
                   "fix what DVC reports (usually in dvc.yaml), then run again")


_DOT_LINE = re.compile(r'^"(?P<node>[^"]+)"(?:\s*->\s*"(?P<downstream>[^"]+)")?\s*;$')


def _graph(dot: str) -> tuple[list[str], list[tuple[str, str]]]:
    """`dvc dag --dot` -> (nodes in DVC's listing order, (upstream, downstream) edges)."""
    found = [m.group("node", "downstream") for m in map(_DOT_LINE.match, map(str.strip, dot.splitlines())) if m]
    return list(dict.fromkeys(n for pair in found for n in pair if n)), [pair for pair in found if pair[1]]


def _topological(nodes: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """Every node after all of its upstream nodes; among the ready ones, the first listed first."""
    rank = {node: i for i, node in enumerate(nodes)}
    upstream = {node: {before for before, after in edges if after == node} for node in nodes}
    ready = [(rank[node], node) for node in nodes if not upstream[node]]  # sorted: a heap already
    order: list[str] = []
    while ready:
        order.append(node := heapq.heappop(ready)[1])
        for after in (after for before, after in edges if before == node):
            upstream[after].discard(node)
            if not upstream[after]:
                heapq.heappush(ready, (rank[after], after))
    if len(order) < len(nodes):
        raise DvcError(f"`dvc dag` has a dependency cycle among {sorted(set(nodes) - set(order))}: fix dvc.yaml")
    return order


def pipeline_stages(dvc_file: str | Path = "dvc.yaml", cwd: Path | None = None) -> list[Stage]:
    """The stages of `dvc_file` in an order DVC can run them one by one, named as `dvc repro` takes
    them in `cwd` (default: the current directory, the project root for the flows)."""
    listed = _run(["stage", "list", "--name-only", str(dvc_file)], cwd).split()
    nodes, edges = _graph(_run(["dag", "--dot"], cwd))
    if missing := sorted(set(listed) - set(nodes)):
        raise DvcError(f"`dvc dag --dot` shows no {missing}: is dvc the version the project pins (`make setup`)?")
    return [Stage(name) for name in _topological(nodes, edges) if name in listed]


def stage_outputs(stages: Iterable[str], lock_file: str | Path = "dvc.lock") -> list[str]:
    """The outputs (metrics and plots too) DVC recorded in dvc.lock for `stages`; none for a stage not run."""
    path = Path(lock_file)
    recorded = ((yaml.safe_load(path.read_text()) or {}).get("stages") or {}) if path.is_file() else {}
    return [out["path"] for name in stages for out in (recorded.get(name) or {}).get("outs") or []]


def changed_stages(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> set[str] | None:
    """The stages `dvc status` reports as changed, or None when it cannot tell (then run all)."""
    result = subprocess.run([_dvc(), "status", "--json"], cwd=cwd, env=dict(env) if env else None,
                            capture_output=True, text=True, check=False)
    try:
        status = json.loads(result.stdout or "{}") if result.returncode == 0 else None
    except json.JSONDecodeError:
        return None
    return None if status is None else {name.rpartition(":")[2] for name in status}


def repro_stage(stage: str, on_line: Callable[[str], None], cwd: Path | None = None,
                env: Mapping[str, str] | None = None) -> list[str]:
    """`dvc repro --single-item STAGE`, each line to `on_line`; the lines, or StageFailed with the last 40."""
    process = subprocess.Popen([_dvc(), "repro", "--single-item", stage], cwd=cwd,
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
    return "skipped" if "didn't change, skipping" in text else "restored" if "from run-cache" in text else "ran"


def lock_hash(path: str | Path = "dvc.lock") -> str | None:
    """sha256 of dvc.lock: which data, code and params the outputs come from."""
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
