"""Other ways to draw the released samples, measured as the sweep measures.

Each aims at what the default release lacks, variety within a class and nearness to real
images (coverage):

    python benchmarks/release_variants.py rounds RxK      (e.g. rounds 10x50)
        Fast-Datafree's warm start (Fang et al. 2022, zju-vipa/Fast-Datafree): R rounds, each
        starting from models/generator.pt and trained K more steps with the `invert` losses
        and a new seed; one adversarial student persists across the rounds (DFAD), so each
        round is pushed towards what the earlier rounds did not teach. Each round draws
        1/R of the release.
    python benchmarks/release_variants.py kcenter FACTOR  (e.g. kcenter 10)
        Draw FACTOR times the release per class, keep a farthest-point (k-center) subset per
        class in the classifier's embedding: the most spread samples the generator makes.
    python benchmarks/release_variants.py pixels STEPS BN  (e.g. pixels 300 0.25)
        No generator: DeepInversion's pixel optimisation (netinv.inversion.pixel_opt) of the
        release from noise, STEPS per batch of 256 mixed classes, batch-norm prior weight BN.
    python benchmarks/release_variants.py refine STEPS BN  (e.g. refine 100 0.25)
        The same optimisation started from the generator's own draw: the samples refined.

Printed, as by benchmarks/invert_sweep.py: fidelity, the sweep judge's agreement, coverage
and pixel spread against the validation split, and a distilled student's validation
accuracy; never the held-out judge or the test split. One JSON line per run is appended to
benchmarks/results/release_variants.jsonl. Needs `dvc repro invert`.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from netinv.config.inversion import InversionConfig, SamplingConfig
from netinv.inversion.features import BatchNormStatsPrior, FeatureTap
from netinv.inversion.pixel_opt import PixelOptConfig, invert_pixels
from netinv.inversion.trainer import data_free_terms, generate, inversion_losses, weighted_total
from netinv.metrics.quality import embed_and_predict, label_agreement
from netinv.models import load_model
from netinv.training import descend

sys.path.insert(0, str(Path(__file__).parent))
from invert_sweep import PATHS, Run, distill_val, judged, setup

OUT = Path("benchmarks/results/release_variants.jsonl")


def rounds(run: Run, count: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The release drawn in `count` rounds of `steps` warm-started generator steps each."""
    config = run.cfg.build(InversionConfig, seed=run.params.seed)
    sampling = run.cfg.build(SamplingConfig)
    trained = load_model(PATHS.generator, run.device)
    classifier = run.classifier.eval().requires_grad_(False)
    extras = data_free_terms(config, trained, None, run.device)  # one adversary for all rounds
    bn_prior = BatchNormStatsPrior(classifier) if config.weights.bn else None
    per_class = sampling.samples_per_class // count
    images, labels = [], []
    with FeatureTap(classifier, config.feature_layers) as tap:
        for r in range(count):
            generator = copy.deepcopy(trained).train()
            optimizer = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=(0.5, 0.999))
            rng = torch.Generator().manual_seed(run.params.seed + 1000 + r)
            for _ in range(steps):
                terms, batch = inversion_losses(generator, classifier, tap, bn_prior, config, rng, run.device,
                                                extras=extras)
                descend(weighted_total(terms, config.weights), optimizer, config="InversionConfig", terms=terms,
                        diverged="warm-started round's loss became {loss} (non-finite terms: {bad})")
                if extras is not None:
                    extras.after_step(*batch)
            wanted = torch.arange(generator.config.num_classes).repeat_interleave(per_class)
            images.append(generate(generator, wanted, sampling.sample_temperature, run.params.seed + 1 + r,
                                   run.device, dropout=sampling.sample_with_dropout).numpy())
            labels.append(wanted.numpy())
    if bn_prior is not None:
        bn_prior.close()
    return np.concatenate(images), np.concatenate(labels).astype(np.int64)


def kcenter(run: Run, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """A pool `factor` times the release per class; per class, the farthest-point subset of the
    release's size in the classifier's embedding, from a seeded first point."""
    sampling = run.cfg.build(SamplingConfig)
    generator = load_model(PATHS.generator, run.device)
    num_classes = generator.config.num_classes
    wanted = torch.arange(num_classes).repeat_interleave(sampling.samples_per_class * factor)
    pool = generate(generator, wanted, sampling.sample_temperature, run.params.seed + 1, run.device,
                    dropout=sampling.sample_with_dropout).numpy()
    pool_labels = wanted.numpy().astype(np.int64)
    features, _ = embed_and_predict(run.classifier, pool, device=run.device)
    rng = np.random.default_rng(run.params.seed)
    keep: list[int] = []
    for c in range(num_classes):
        rows = np.flatnonzero(pool_labels == c)
        points = torch.as_tensor(features[rows]).float()
        chosen = [int(rng.integers(len(rows)))]
        nearest = torch.cdist(points, points[chosen]).squeeze(1)
        while len(chosen) < sampling.samples_per_class:
            far = int(nearest.argmax())
            chosen.append(far)
            nearest = torch.minimum(nearest, torch.cdist(points, points[far : far + 1]).squeeze(1))
        keep.extend(rows[chosen])
    return pool[keep], pool_labels[keep]


def pixels(run: Run, steps: int, bn: float, refine: bool) -> tuple[np.ndarray, np.ndarray]:
    """The release optimised pixel by pixel (DeepInversion, Yin et al. 2020, NVlabs/DeepInversion:
    cross-entropy, total variation and the batch-norm prior on mixed-class batches, random shifts),
    from noise, or from the generator's own draw when `refine`."""
    sampling = run.cfg.build(SamplingConfig)
    generator = load_model(PATHS.generator, run.device)
    wanted = torch.arange(generator.config.num_classes).repeat(sampling.samples_per_class)  # classes mixed per batch
    init = None
    if refine:
        init = generate(generator, wanted, sampling.sample_temperature, run.params.seed + 1, run.device,
                        dropout=sampling.sample_with_dropout)
    config = PixelOptConfig(steps=steps, bn=bn, jitter=2, target_fidelity=1.01, seed=run.params.seed)
    shape = (generator.config.out_channels, *generator.config.image_size)
    images, _ = invert_pixels(run.classifier, wanted, shape, config, run.device, init=init)
    return images.numpy(), wanted.numpy().astype(np.int64)


def main() -> None:
    arity = {"rounds": 1, "kcenter": 1, "pixels": 2, "refine": 2}  # numbers after the variant's name
    if len(sys.argv) < 2 or sys.argv[1] not in arity or len(sys.argv) != 2 + arity[sys.argv[1]]:
        raise SystemExit(__doc__)
    variant, values = sys.argv[1], sys.argv[2:]
    numbers: list[int | float] = (
        [int(v) for v in values[0].split("x")] if variant == "rounds"
        else [int(values[0]), float(values[1])] if variant in ("pixels", "refine") else [int(values[0])])
    sys.argv = sys.argv[:2]  # setup reads overrides from the rest: there are none
    run = setup("invert", "the release variants")
    draw = {"rounds": rounds, "kcenter": kcenter, "pixels": partial(pixels, refine=False),
            "refine": partial(pixels, refine=True)}[variant]
    started = time.perf_counter()
    images, labels = draw(run, *numbers)
    seconds = time.perf_counter() - started
    _, logits = embed_and_predict(run.classifier, images, device=run.device)
    row = {"variant": variant, "setting": numbers, "fidelity": label_agreement(logits, labels),
           "distill_val": distill_val(images, run), "seconds": seconds,
           **judged(images, labels, run.data, run.device)}
    with OUT.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))


if __name__ == "__main__":
    main()
