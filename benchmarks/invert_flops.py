"""How close one generator training step comes to this machine's fp32 matmul peak.

Counts the floating-point operations of one default `invert` step (generator forward,
classifier forward, every enabled loss, backward) with torch.utils.flop_counter, times the
step, and compares the achieved GFLOP/s with the peak of a large square matmul measured
the same way on the same threads. The default classifier architecture is built fresh
(weights do not change the count or the time). Writes benchmarks/results/invert_flops.json.

    python benchmarks/invert_flops.py [--steps 20] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from netinv.config.inversion import GeneratorConfig, InversionConfig
from netinv.inversion.features import BatchNormStatsPrior, FeatureTap
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.trainer import data_free_terms, inversion_losses, weighted_total
from netinv.models import CNNClassifier, CNNConfig
from stages.config import load_params

OUT = Path(__file__).resolve().parent / "results" / "invert_flops.json"
CPU = torch.device("cpu")


def matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of the best of `repeats` (size x size) @ (size x size) fp32 products."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)  # warm-up
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    params = load_params()
    cfg = params.invert
    config = cfg.build(InversionConfig, seed=0)
    generator = ConditionedGenerator(cfg.build(GeneratorConfig, num_classes=10, out_channels=1, image_size=(28, 28)))
    classifier = CNNClassifier(params.classifier.build(CNNConfig, in_channels=1, image_size=(28, 28), num_classes=10,
                                                       mean=(0.5,), std=(0.5,))).eval()
    for weight in classifier.parameters():
        weight.requires_grad_(False)
    optimizer = torch.optim.Adam(generator.parameters(), lr=config.lr)
    extras = data_free_terms(config, generator, None, CPU)
    rng = torch.Generator().manual_seed(0)
    bn_prior = BatchNormStatsPrior(classifier) if config.weights.bn else None

    def step() -> None:
        terms, batch = inversion_losses(generator, classifier, tap, bn_prior, config, rng, CPU, None, extras)
        loss = weighted_total(terms, config.weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if extras is not None:
            extras.after_step(*batch)

    with FeatureTap(classifier, config.feature_layers) as tap:
        for _ in range(3):
            step()  # warm-up (and a filled memory bank when the contrastive term is on)
        counter = FlopCounterMode(display=False)
        with counter:
            step()
        flops = counter.get_total_flops()
        seconds = [_timed(step) for _ in range(args.steps)]
    median = statistics.median(seconds)
    peak = matmul_peak()
    result = {"threads": args.threads, "batch_size": config.batch_size, "gflop_per_step": flops / 1e9,
              "step_seconds_median": median, "achieved_gflops": flops / median / 1e9, "matmul_peak_gflops": peak,
              "fraction_of_peak": flops / median / 1e9 / peak, "steps_timed": args.steps,
              "torch": torch.__version__}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
