"""Conditioned generator vs per-batch pixel optimisation: wall time to N samples, and quality.

Same classifier (models/classifier.pt), same judge (models/evaluator.pt), same number of
samples. The generator's time is its training time (from metrics/inversion.json, as the
`invert` stage measured it) plus the time to sample; pixel optimisation pays a full
optimisation for every batch. Two baselines: plain (total variation, each batch stopped
at 99% fidelity) and with DeepInversion's priors (the generator's batch-norm prior and
shifts, a fixed number of steps: fidelity comes early, the judge's agreement late).
Every batch of a baseline costs the same, so the slow one's run can be capped
(`--max-prior-samples`) and its time projected linearly to larger counts, marked `projected`.
Prints a table and writes JSON.

    python benchmarks/inversion_vs_pixel_opt.py --samples 1000 10000 --out benchmarks/results/inversion_vs_pixel_opt.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from netinv.atomic import write_json
from netinv.inversion.pixel_opt import PixelOptConfig, invert_pixels
from netinv.inversion.trainer import generate
from netinv.metrics.diversity import mean_pairwise_distance
from netinv.metrics.quality import embed_and_predict, label_agreement
from netinv.models import load_model


def quality(images: np.ndarray, labels: np.ndarray, classifier, evaluator) -> dict[str, float]:
    _, logits = embed_and_predict(classifier, images)
    _, eval_logits = embed_and_predict(evaluator, images)
    spread = np.mean([mean_pairwise_distance(images[labels == c], max_pairs=500) for c in np.unique(labels)])
    return {"fidelity": label_agreement(logits, labels), "eval_agreement": label_agreement(eval_logits, labels),
            "pixel_spread": float(spread)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--models", type=Path, default=Path("models"))
    p.add_argument("--inversion-metrics", type=Path, default=Path("metrics/inversion.json"))
    p.add_argument("--pixel-steps", type=int, default=300, help="plain baseline: most steps per batch")
    p.add_argument("--prior-steps", type=int, default=1000, help="baseline with priors: steps per batch")
    p.add_argument("--prior-bn", type=float, default=0.2, help="its batch-norm prior weight")
    p.add_argument("--prior-jitter", type=int, default=2, help="its random shift, pixels")
    p.add_argument("--max-prior-samples", type=int, default=10**9,
                   help="run the baseline with priors on at most this many samples, project its time beyond")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/inversion_vs_pixel_opt.json"))
    args = p.parse_args()

    device = torch.device("cpu")
    classifier = load_model(args.models / "classifier.pt")
    evaluator = load_model(args.models / "evaluator.pt")
    generator = load_model(args.models / "generator.pt")
    inversion = json.loads(args.inversion_metrics.read_text())
    train_seconds, temperature = inversion["train_seconds"], inversion["sample_temperature"]
    num_classes = generator.config.num_classes
    shape = (generator.config.out_channels, *generator.config.image_size)
    rows = []
    runs: dict[tuple[str, int], dict] = {}  # (baseline, samples run) -> its measurement
    for n in args.samples:
        labels = torch.arange(n) % num_classes
        started = time.perf_counter()
        images = generate(generator, labels, temperature, seed=1, device=device).numpy()
        sample_seconds = time.perf_counter() - started
        rows.append({"inverter": "generator", "samples": n, "seconds": train_seconds + sample_seconds,
                     "train_seconds": train_seconds, "sample_seconds": sample_seconds,
                     **quality(images, labels.numpy(), classifier, evaluator)})
        baselines = {  # name: (config, most samples actually run)
            "pixel_opt": (PixelOptConfig(steps=args.pixel_steps, target_fidelity=0.99), n),
            "pixel_opt_priors": (PixelOptConfig(steps=args.prior_steps, bn=args.prior_bn, jitter=args.prior_jitter,
                                                target_fidelity=1.01), args.max_prior_samples),
        }
        for name, (config, cap) in baselines.items():
            measured = min(n, cap)
            if (name, measured) not in runs:  # a capped baseline measured once serves every larger count
                started = time.perf_counter()
                pixels, steps = invert_pixels(classifier, labels[:measured], shape, config, device)
                runs[name, measured] = {"measured_seconds": time.perf_counter() - started, "optimisation_steps": steps,
                                        **quality(pixels.numpy(), labels[:measured].numpy(), classifier, evaluator)}
            run = runs[name, measured]
            rows.append({"inverter": name, "samples": n, "seconds": run["measured_seconds"] * n / measured,
                         "measured_samples": measured, "projected": measured < n, "config": dataclasses.asdict(config),
                         **run})
    print(f"{'inverter':<17} {'samples':>8} {'seconds':>9} {'fidelity':>9} {'eval agr':>9} {'spread':>7}")
    for r in rows:
        mark = " (projected)" if r.get("projected") else ""
        print(f"{r['inverter']:<17} {r['samples']:>8} {r['seconds']:>9.1f} {r['fidelity']:>9.3f} "
              f"{r['eval_agreement']:>9.3f} {r['pixel_spread']:>7.3f}{mark}")
    write_json(args.out, {"rows": rows, "device": str(device), "threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
