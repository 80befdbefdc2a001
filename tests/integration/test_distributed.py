"""Data-parallel training: `torchrun` with 2 gloo processes against one process, same stage.

DDP sees the same global batches in the same order (netinv.distributed), so the two runs
differ only by dropout noise and float summation order (and, for the generator, by the
cosine / orthogonality terms being computed within each rank's half batch). Tolerances,
on the tiny profile: classifier test accuracy within 5 points and final training loss
within 20%; generator fidelity within 15 points.
"""

from __future__ import annotations

import json
import sys

import pytest

from tests.integration.workspace import run

pytestmark = pytest.mark.slow
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def train_cmd(out: str) -> list[str]:
    return ["-m", "stages.train", "classifier", "--data", "data/prepared", "--model", f"{out}/classifier.pt",
            "--metrics", f"{out}/metrics.json", "--plots", f"{out}/plots"]


def invert_cmd(out: str) -> list[str]:
    return ["-m", "stages.invert", "--classifier", "models/classifier.pt", "--onnx", "models/classifier.onnx",
            "--evaluator", "models/evaluator.pt", "--heldout", "models/heldout.pt", "--data", "data/prepared",
            "--generator", f"{out}/generator.pt",
            "--samples", f"{out}/samples", "--metrics", f"{out}/inversion.json", "--plots", f"{out}/plots",
            "--checkpoint", f"{out}/invert.pt"]


def test_classifier_on_two_processes_matches_one(inverted):
    work, env = inverted
    env = {**env, "OMP_NUM_THREADS": "1"}
    run([sys.executable, *train_cmd("single")], work, env)
    run([*TORCHRUN, *train_cmd("ddp")], work, env)

    single = json.loads((work / "single/metrics.json").read_text())
    ddp = json.loads((work / "ddp/metrics.json").read_text())
    assert (single["processes"], ddp["processes"]) == (1, 2)
    assert ddp["test_accuracy"] == pytest.approx(single["test_accuracy"], abs=0.05)
    curve = {name: (work / name / "plots/training.csv").read_text().splitlines() for name in ("single", "ddp")}
    assert len(curve["single"]) == len(curve["ddp"])
    last_loss = {name: float(lines[-1].split(",")[1]) for name, lines in curve.items()}
    assert last_loss["ddp"] == pytest.approx(last_loss["single"], rel=0.2)


def test_generator_on_two_processes_matches_one(inverted):
    work, env = inverted
    env = {**env, "OMP_NUM_THREADS": "1"}
    run([sys.executable, *invert_cmd("inv_single")], work, env)
    run([*TORCHRUN, *invert_cmd("inv_ddp")], work, env)

    single = json.loads((work / "inv_single/inversion.json").read_text())
    ddp = json.loads((work / "inv_ddp/inversion.json").read_text())
    assert (single["processes"], ddp["processes"]) == (1, 2)
    assert ddp["num_samples"] == single["num_samples"]
    assert ddp["fidelity"] == pytest.approx(single["fidelity"], abs=0.15)
    assert not (work / "inv_ddp/invert.pt").exists()
