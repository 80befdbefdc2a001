"""What rounds and the pool rule change: the garbage-class model's AUROC per OOD set.

    python benchmarks/ood_rounds.py --rounds 0 1 2 4 --rules all uncertain [--set key=value ...]

Every other setting comes from params.yaml's `ood` and `invert` sections (override with
--set ood.KEY=VALUE). For each pool rule the rounds run as one resumed sequence: the run
with r rounds resumes from the round checkpoint of the previous one (the loop is seeded
round by round, so this equals a fresh run) and adds its closing epoch. rounds = 0 is a
garbage class trained on the initial noise alone. Writes benchmarks/results/ood_rounds.json
and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from netinv.atomic import write_json
from netinv.config.inversion import InversionConfig
from netinv.config.ood import GarbageConfig
from netinv.device import seed_everything
from netinv.inversion.generator import ConditionedGenerator
from netinv.models import load_model
from netinv.ood.garbage import train_garbage_model
from netinv.ood.garbage_model import class_probs, garbage_model_from, garbage_scores
from netinv.ood.metrics import ood_metrics
from netinv.ood.sets import builtin_ood_sets
from netinv.splits import load_prepared
from stages.config import generator_config, validate_params


def override(raw: dict, assignment: str) -> None:
    key, value = assignment.split("=", 1)
    *path, last = key.split(".")
    node = raw
    for part in path:
        node = node[part]
    node[last] = yaml.safe_load(value)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, nargs="+", default=[0, 1, 2, 4])
    p.add_argument("--rules", nargs="+", default=["all", "uncertain"])
    p.add_argument("--data", type=Path, default=Path("data/prepared"))
    p.add_argument("--classifier", type=Path, default=Path("models/classifier.pt"))
    p.add_argument("--set", action="append", default=[], help="override, e.g. ood.real_per_round=6000")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/ood_rounds.json"))
    args = p.parse_args()
    raw = yaml.safe_load(Path("params.yaml").read_text())
    for assignment in args.set:
        override(raw, assignment)
    params = validate_params(raw)
    cfg, device = params.ood, torch.device("cpu")
    data = load_prepared(args.data)
    classifier = load_model(args.classifier)
    n, shape = len(data.class_names), data.image_shape
    sets = builtin_ood_sets(cfg.ood_sets, shape, cfg.set_size, params.seed)
    rows = []
    for rule in args.rules:
        with tempfile.TemporaryDirectory() as tmp:
            for rounds in sorted(args.rounds):
                seed_everything(params.seed)
                config = cfg.build(GarbageConfig, seed=params.seed, rounds=rounds, pool_rule=rule)
                inverter = params.ood_generator()
                started = time.perf_counter()
                result = train_garbage_model(
                    garbage_model_from(classifier, config.init_from_classifier), ConditionedGenerator(generator_config(inverter, n + 1, shape)),
                    data.train.images, data.train.labels, data.val.images, data.val.labels, config,
                    inverter.build(InversionConfig, seed=params.seed), device, checkpoint=Path(tmp) / "rounds.pt")
                test_probs = class_probs(result.model, data.test.images, device)
                id_scores = garbage_scores(test_probs)
                row = {"rule": rule, "rounds": rounds, "pool": len(result.pool),
                       "id_accuracy": float(np.mean(test_probs[:, :n].argmax(1) == data.test.labels)),
                       "id_rejected": float(np.mean(test_probs.argmax(1) == n)),
                       "seconds": time.perf_counter() - started}
                for name, images in sets.items():
                    probs = class_probs(result.model, images, device)
                    scores = garbage_scores(probs)
                    for method in ("garbage", "garbage_ue"):
                        row[f"{method}/{name}"] = ood_metrics(id_scores[method], scores[method])["auroc"]
                    row[f"rejected/{name}"] = float(np.mean(probs.argmax(1) == n))
                for method in ("garbage", "garbage_ue"):
                    row[f"{method}/mean"] = float(np.mean([row[f"{method}/{s}"] for s in sets]))
                rows.append(row)
                print(json.dumps(row), flush=True)
    write_json(args.out, {"overrides": args.set, "rows": rows})
    keys = ["rule", "rounds", "pool", "id_accuracy", "id_rejected",
            *[f"garbage/{s}" for s in sets], "garbage/mean", "garbage_ue/mean", *[f"rejected/{s}" for s in sets]]
    print("| " + " | ".join(keys) + " |\n|" + " --- |" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
