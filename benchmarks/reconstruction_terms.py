"""Which terms of the reconstruction objective move the leakage gap? One size, weight overrides.

    python benchmarks/reconstruction_terms.py SIZE NAME [reconstruct.KEY=VALUE ...]
    e.g. python benchmarks/reconstruction_terms.py 100 confidence-only \\
             reconstruct.weights.robustness=0 reconstruct.weights.grad_norm=0

Runs the `reconstruct` stage's per-size audit (target, reconstruction, matching against
the control) with params.yaml's `reconstruct` section plus the overrides, on
data/prepared (or $NETINV_DATA), and prints one JSON line of headline metrics.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch
import yaml

from netinv.device import resolve_device
from netinv.reconstruction.study import audit_size
from netinv.splits import load_prepared
from stages.config import validate_params
from stages.reconstruct import study_configs

HEADLINE = ("leakage_gap", "gap_ci_low", "gap_ci_high", "ssim_train_mean", "ssim_control_mean",
            "matched_frac_train", "matched_frac_control", "target_test_accuracy", "recon_confidence_mean",
            "reconstruct_seconds")


def set_key(tree: dict, dotted: str, value: str) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[last] = yaml.safe_load(value)


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    size, name, overrides = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    raw = yaml.safe_load(Path("params.yaml").read_text())
    for item in overrides:
        key, _, value = item.partition("=")
        set_key(raw, key, value)
    params = validate_params(raw, "params.yaml + overrides")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    data = load_prepared(os.environ.get("NETINV_DATA", "data/prepared"))
    started = time.perf_counter()
    result = audit_size(size, data, **study_configs(params.reconstruct, data, params.seed), seed=params.seed,
                        device=resolve_device(params.reconstruct.device))
    metrics = {k: round(result["metrics"][k], 4) for k in HEADLINE}
    print(json.dumps({"name": name, "size": size, "overrides": overrides, **metrics,
                      "wall_seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
