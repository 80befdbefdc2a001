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

from netinv.config.distill import DistillConfig, StudentConfig
from netinv.distill import distill
from stages.distill import load_teacher, sources

sys.path.insert(0, str(Path(__file__).parent))
from invert_sweep import PATHS, setup

OUT = Path("benchmarks/results/distill_recipe.jsonl")
SOURCES = ("samples", "online", "real")


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in SOURCES:
        raise SystemExit(__doc__)
    run = setup("distill", "the recipe benchmark")
    teacher = load_teacher(PATHS, run.cfg.teacher, run.device)  # as the stage loads it
    source = sources(PATHS, run.params, run.data, run.device)[0][run.name]  # built as the stage builds it
    val = (run.data.val.images, run.data.val.labels)
    started = time.perf_counter()
    result = distill(teacher, source, val, val, run.cfg.build(StudentConfig, **run.data.model_shape()),
                     run.cfg.build(DistillConfig, seed=run.params.seed), run.device, progress_lines=False)
    row = {"source": run.name, "changes": run.changes, "val_accuracy": result.val_accuracy,
           "seconds": time.perf_counter() - started}
    with OUT.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))


if __name__ == "__main__":
    main()
