"""Fidelity and judge agreement of the trained generator against the sampling temperature.

    python benchmarks/sample_temperature.py            # uses models/ of `dvc repro`

The conditioning vector p = softmax(r / T) is drawn at `invert.temperature` in training;
sampling at a lower T gives sharper vectors. Prints one row per temperature.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from netinv.inversion.trainer import generate
from netinv.metrics.quality import embed_and_predict, label_agreement, mean_pairwise_distance
from netinv.models import load_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", type=Path, default=Path("models"))
    p.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05])
    p.add_argument("--per-class", type=int, default=200)
    args = p.parse_args()
    generator = load_model(args.models / "generator.pt")
    classifier, judge = load_model(args.models / "classifier.pt"), load_model(args.models / "evaluator.pt")
    labels = torch.arange(generator.config.num_classes).repeat_interleave(args.per_class)
    print(f"{'T':>5} {'fidelity':>9} {'judge':>7} {'pixel spread':>13}")
    for t in args.temperatures:
        images = generate(generator, labels, t, seed=1, device=torch.device("cpu")).numpy()
        _, logits = embed_and_predict(classifier, images)
        _, judged = embed_and_predict(judge, images)
        spread = sum(mean_pairwise_distance(images[labels.numpy() == c], max_pairs=500)
                     for c in range(generator.config.num_classes)) / generator.config.num_classes
        print(f"{t:>5} {label_agreement(logits, labels.numpy()):>9.3f} {label_agreement(judged, labels.numpy()):>7.3f} "
              f"{spread:>13.3f}")


if __name__ == "__main__":
    main()
