"""Distil one student with `distill` overrides and print its accuracy on the validation split.

How the `distill` recipe's defaults (CutMix, 2,500 steps) were chosen, e.g.:

    python benchmarks/distill_recipe.py samples cutmix=0 steps=1500
    python benchmarks/distill_recipe.py online steps=2500

The first argument is the source: `samples` (outputs/inversion/samples.npz), `online` (fresh
draws from models/generator.pt) or `real` (as many class-balanced training images as there
are samples, the ceiling), built exactly as the `distill` stage builds them. Only the
validation split is read, the student's "test" being the validation split too, so nothing
printed here is a number the stage reports as independent. One JSON line per run is appended
to benchmarks/results/distill_recipe.jsonl. Needs `dvc repro invert`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from netinv.config.distill import DistillConfig, StudentConfig
from netinv.config.inversion import SamplingConfig
from netinv.device import resolve_device, seed_everything
from netinv.distill import distill, fixed_source, generator_source
from netinv.models import load_model
from netinv.splits import balanced_limit, load_prepared
from stages.config import load_params

sys.path.insert(0, str(Path(__file__).parent))
from invert_sweep import overrides

OUT = Path("benchmarks/results/distill_recipe.jsonl")
SOURCES = ("samples", "online", "real")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in SOURCES:
        raise SystemExit(__doc__)
    source_name, changes = sys.argv[1], overrides(sys.argv[2:])
    params = load_params()
    cfg = params.distill.overridden(changes, "the recipe benchmark")
    device = resolve_device(cfg.device)
    seed_everything(params.seed)
    data = load_prepared("data/prepared")
    teacher = load_model("models/classifier.pt", device)
    with np.load("outputs/inversion/samples.npz") as saved:
        samples = saved["images"]
    if source_name == "online":
        sampling = params.invert.build(SamplingConfig)
        source = generator_source(load_model("models/generator.pt", device), sampling.sample_temperature,
                                  sampling.sample_with_dropout, device)
    else:
        source = fixed_source(samples if source_name == "samples" else
                              balanced_limit(data.train, len(samples), params.seed).images)
    val = (data.val.images, data.val.labels)
    started = time.perf_counter()
    result = distill(teacher, source, val, val, cfg.build(StudentConfig, **data.model_shape()),
                     cfg.build(DistillConfig, seed=params.seed), device, progress_lines=False)
    row = {"source": source_name, "changes": changes, "val_accuracy": result.val_accuracy,
           "seconds": time.perf_counter() - started}
    with OUT.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))


if __name__ == "__main__":
    main()
