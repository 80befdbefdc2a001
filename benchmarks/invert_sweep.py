"""Run the `invert` stage once with params overrides and print its headline metrics.

The exploration behind the `invert` defaults (docs/results.md) was run with this, e.g.:

    python benchmarks/invert_sweep.py jitter2-bn01 invert.generator_steps=600 invert.jitter=2 invert.weights.bn=0.1

Outputs go to benchmarks/results/sweep/NAME/ (ignored by git); the pipeline's own
outputs are not touched. Needs the models of `dvc repro export_onnx`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

HEADLINE = ("fidelity", "eval_agreement", "coverage", "coverage_real", "precision", "recall", "pixel_spread_ratio",
            "diversity_cosine", "diversity_cosine_real", "fid_eval", "train_seconds")


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    name, overrides = sys.argv[1], sys.argv[2:]
    params = yaml.safe_load(Path("params.yaml").read_text())
    for override in overrides:
        key, value = override.split("=", 1)
        *parents, leaf = key.split(".")
        node = params
        for part in parents:
            node = node[part]
        node[leaf] = yaml.safe_load(value)
    out = Path("benchmarks/results/sweep") / name
    out.mkdir(parents=True, exist_ok=True)
    (out / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "stages.invert", "--params", str(out / "params.yaml"),
         "--classifier", "models/classifier.pt", "--onnx", "models/classifier.onnx", "--evaluator",
         "models/evaluator.pt", "--data", "data/prepared", "--generator", str(out / "generator.pt"),
         "--samples", str(out / "samples"), "--metrics", str(out / "metrics.json"), "--plots", str(out / "plots"),
         "--checkpoint", str(out / "checkpoint.pt")],
        check=True, env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{out.resolve() / 'mlflow.db'}"})
    metrics = json.loads((out / "metrics.json").read_text())
    print(name, " ".join(f"{k}={metrics[k]:.3f}" for k in HEADLINE if k in metrics), f"wall={time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
