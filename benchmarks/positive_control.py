"""Does the KKT attack find the positive control's training images more often than held-out ones?

    OMP_NUM_THREADS=1 python benchmarks/positive_control.py ['{"per_class": 3}' ['{"steps": 2000}']]

The first argument overrides fields of `PositiveControlConfig` (reconstruct.positive_control),
the second fields of its `KKTConfig` (reconstruct.positive_control.attack); both JSON objects,
default: the config's defaults (which params.yaml mirrors). Runs exactly what the `reconstruct`
stage runs for the positive control (netinv.reconstruction.positive.positive_control, on
data/prepared or $NETINV_DATA, control drawn from `reconstruct.control_split`, seed
`$SEED` or 0): the memorising MLP trained on `per_class` images per class, the KKT attack,
matching by best same-class SSIM at `recovered_threshold` (0.6).

Measures, on one core (torch.set_num_threads(1)): the fraction of training images whose best
reconstruction exceeds the threshold (recovered_frac_train), the same for a held-out control of
equal size and classes (recovered_frac_control), their difference (gap) with its 95% bootstrap
interval (netinv.reconstruction.significance.difference_ci, each set resampled on its own), and
the wall-clock seconds of training + attack + matching. Target (issue 14): gap >= 0.20, interval
strictly above 0, seconds <= 900 on 2 cores. Prints the numbers and appends one JSON line to
benchmarks/results/positive_control.jsonl. One seed, one draw: not a measure of seed variance.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from netinv.config.reconstruction import PositiveControlConfig, RecoveryConfig
from netinv.reconstruction.attacks import make_attack
from netinv.reconstruction.positive import positive_control
from netinv.reconstruction.significance import difference_ci
from netinv.splits import load_prepared

RESULTS = Path(__file__).parent / "results" / "positive_control.jsonl"
BOOTSTRAP = 1000


def main(argv: list[str]) -> dict:
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    control_overrides = json.loads(argv[0]) if argv else {}
    attack_overrides = json.loads(argv[1]) if len(argv) > 1 else {}
    base = PositiveControlConfig()
    config = dataclasses.replace(base, **control_overrides,
                                 attack=dataclasses.replace(base.attack, **attack_overrides))
    recovery_cfg = RecoveryConfig()
    seed = int(os.environ.get("SEED", "0"))
    device = torch.device("cpu")
    data = load_prepared(os.environ.get("NETINV_DATA", "data/prepared"))
    started = time.perf_counter()
    result = positive_control(data, config, recovery_cfg, make_attack("kkt", config.attack, device),
                              BOOTSTRAP, seed, device)
    seconds = time.perf_counter() - started
    per = result["per_image"]
    threshold = recovery_cfg.recovered_threshold
    hit_train = np.nan_to_num(per["train_ssim"], nan=-1.0) > threshold
    hit_control = np.nan_to_num(per["control_ssim"], nan=-1.0) > threshold
    low, high = difference_ci(hit_train, hit_control, BOOTSTRAP, 0.95, seed)
    m = result["metrics"]
    row = {
        "control": control_overrides, "attack": attack_overrides, "seed": seed,
        "config": dataclasses.asdict(config), "threshold": threshold, "control_split": recovery_cfg.control_split,
        "n_train": len(hit_train), "n_control": len(hit_control),
        "recovered_frac_train": float(hit_train.mean()), "recovered_frac_control": float(hit_control.mean()),
        "gap": float(hit_train.mean() - hit_control.mean()), "interval": [low, high],
        "best_ssim_train_mean": m["best_ssim_train_mean"], "best_ssim_control_mean": m["best_ssim_control_mean"],
        "leakage_gap": m.get("leakage_gap"), "leakage_gap_ci": [m.get("gap_ci_low"), m.get("gap_ci_high")], "kkt_residual": m["kkt_residual"],
        "target_train_accuracy": m["target_train_accuracy"], "target_test_accuracy": m["target_test_accuracy"],
        "target_seconds": m["target_seconds"], "reconstruct_seconds": m["reconstruct_seconds"],
        "seconds": seconds, "threads": torch.get_num_threads(),
    }
    for key in ("recovered_frac_train", "recovered_frac_control", "gap", "interval", "seconds"):
        print(f"{key}: {row[key]}")
    print(json.dumps(row))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as f:
        f.write(json.dumps(row) + "\n")
    return row


if __name__ == "__main__":
    main(sys.argv[1:])
