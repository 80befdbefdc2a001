"""Faults injected into the real pipeline: what the user sees, and that nothing is lost.

One tiny workspace runs up to `invert` (the `inverted` fixture); each test then breaks something on purpose:
SIGKILL in the middle of generator training, two `dvc repro` at once, an MLflow server
that is down, and a rerun that must reproduce the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from stages.tracking import flatten
from tests.integration.workspace import run

pytestmark = pytest.mark.slow

KEPT = ("models/generator.pt", "metrics/inversion.json", "outputs/inversion/samples.npz")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_params(work: Path, section: str, **values: object) -> None:
    params = yaml.safe_load((work / "params.yaml").read_text())
    params[section].update(values)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def start(cmd: list[str], work: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # its own process group: kill DVC and the stage together


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def comparable(metrics: dict) -> dict:
    """The flat numbers that must repeat: everything but timing, memory and throughput."""
    varying = ("seconds", "per_second", "memory", "latency")
    return {k: v for k, v in flatten("", metrics).items()
            if isinstance(v, int | float) and not any(word in k for word in varying)}


def test_killed_generator_training_keeps_old_outputs_and_resumes_to_the_same_metrics(inverted):
    work, env = inverted
    before = {name: digest(work / name) for name in KEPT}
    set_params(work, "invert", generator_steps=200, checkpoint_every=50)
    checkpoint = work / "checkpoints" / "invert.pt"

    proc = start(["dvc", "repro", "invert"], work, env)
    try:
        wait_for(checkpoint.exists, 300, "the first generator checkpoint")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert {name: digest(work / name) for name in KEPT} == before, "a killed stage must leave the old outputs"

    resumed = run(["dvc", "repro", "invert"], work, env)
    assert "resuming generator training from step" in resumed.stdout + resumed.stderr
    assert not checkpoint.exists(), "a finished stage removes its checkpoint"
    after_resume = json.loads((work / "metrics/inversion.json").read_text())
    assert after_resume["steps"] == 200

    # The same stage, uninterrupted, into other paths: the numbers must be identical on CPU.
    fresh = work / "fresh"
    run([sys.executable, "-m", "stages.invert", "--classifier", "models/classifier.pt", "--onnx",
        "models/classifier.onnx", "--evaluator", "models/evaluator.pt", "--heldout", "models/heldout.pt",
        "--data", "data/prepared", "--generator", str(fresh / "generator.pt"), "--samples", str(fresh / "samples"),
        "--metrics", str(fresh / "inversion.json"), "--plots", str(fresh / "plots"),
        "--checkpoint", str(fresh / "invert.pt")], work, env)
    uninterrupted = json.loads((fresh / "inversion.json").read_text())
    assert comparable(after_resume) == pytest.approx(comparable(uninterrupted), abs=1e-6)


def test_a_second_repro_in_the_same_workspace_is_refused_clearly(inverted):
    work, env = inverted
    first = start(["dvc", "repro", "--force", "export_onnx"], work, env)
    try:
        wait_for(lambda: any("stages.export_onnx" in _cmdline(p) for p in _children(first.pid)), 120,
                 "the first repro to start its stage")
        second = run(["dvc", "repro", "export_onnx"], work, env, check=False)
    finally:
        first.wait(timeout=300)
    assert second.returncode != 0
    message = second.stderr + second.stdout
    assert "is busy, it is being blocked by" in message and "dvc repro" in message  # names the other repro
    assert first.returncode == 0, first.stdout.read() if first.stdout else ""


def _children(pid: int) -> list[int]:
    """Every process in `pid`'s session (DVC runs the stage in a child shell)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == pid:
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_unreachable_tracking_server_fails_in_seconds_and_writes_nothing(inverted):
    work, env = inverted
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = digest(work / "models/classifier.onnx")
    started = time.monotonic()
    result = run([sys.executable, "-m", "stages.export_onnx", "--model", "models/classifier.pt", "--data",
                 "data/prepared", "--onnx", "models/classifier.onnx", "--metrics", "metrics/onnx.json"], work,
                {**env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}, check=False)
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert elapsed < 30
    assert f"cannot reach the MLflow tracking server at http://127.0.0.1:{port}" in result.stderr
    assert "unset MLFLOW_TRACKING_URI" in result.stderr
    assert "Traceback" not in result.stderr
    assert digest(work / "models/classifier.onnx") == before


def test_same_params_and_seed_give_identical_metrics_and_model_bytes(inverted):
    work, env = inverted
    before = json.loads((work / "metrics/classifier.json").read_text())
    model = digest(work / "models/classifier.pt")
    run(["dvc", "repro", "--force", "--single-item", "train@classifier"], work, env)
    after = json.loads((work / "metrics/classifier.json").read_text())
    assert comparable(after) == comparable(before)
    assert digest(work / "models/classifier.pt") == model, "the same weights must give the same file"
    status = run(["dvc", "status", "export_onnx", "invert"], work, env).stdout
    assert "changed" not in status, status  # nothing downstream to rerun
