"""Inversion quality of one trained generator against the sampling temperature.

    python benchmarks/sample_temperature.py                      # models/ of `dvc repro`
    python benchmarks/sample_temperature.py --generator benchmarks/results/sweep/NAME/generator.pt

The conditioning vector p = softmax(r / T) is drawn at `invert.temperature` in training;
sampling at a lower T gives sharper vectors: more class-like samples, less spread. Prints
one row per temperature with the `invert` stage's metrics (same judge, same real data).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from netinv.inversion.trainer import generate
from netinv.metrics.inversion import inversion_quality
from netinv.models import load_model
from netinv.splits import load_prepared

COLUMNS = ("fidelity", "eval_agreement", "coverage", "coverage_real", "recall", "pixel_spread_ratio", "fid_eval")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, default=Path("models"))
    p.add_argument("--generator", type=Path, help="default: MODELS/generator.pt")
    p.add_argument("--data", type=Path, default=Path("data/prepared"))
    p.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05])
    p.add_argument("--per-class", type=int, default=200)
    args = p.parse_args()
    cpu = torch.device("cpu")
    generator = load_model(args.generator or args.models / "generator.pt")
    classifier, judge = load_model(args.models / "classifier.pt"), load_model(args.models / "evaluator.pt")
    data = load_prepared(args.data)
    labels = torch.arange(generator.config.num_classes).repeat_interleave(args.per_class)
    print(f"{'T':>5} " + " ".join(f"{c:>14}" for c in COLUMNS))
    for t in args.temperatures:
        images = generate(generator, labels, t, seed=1, device=cpu).numpy()
        quality = inversion_quality(images, labels.numpy(), classifier, judge, data.test.images, data.test.labels,
                                    generator.config.num_classes, cpu, control_images=data.train.images,
                                    control_labels=data.train.labels)
        print(f"{t:>5} " + " ".join(f"{quality[c]:>14.3f}" for c in COLUMNS), flush=True)


if __name__ == "__main__":
    main()
