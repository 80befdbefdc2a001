"""Train one generator with `invert` overrides and print what selection may read.

The exploration behind the `invert` defaults (docs/results.md) was run with this, e.g.:

    python benchmarks/invert_sweep.py bn5 weights.bn=5 generator_steps=400

Printed: fidelity, the sweep judge's agreement (models/evaluator.pt), coverage and pixel
spread in its feature space, and the accuracy on the *validation* split of a student
distilled from the samples alone (the `distill` stage's recipe). Never printed, never
computed here: the held-out judge (models/heldout.pt) and anything on the test split, so
that the numbers the pipeline reports as independent are not the ones settings were
chosen on. One JSON line per run is appended to benchmarks/results/sweep/runs.jsonl
(ignored by git). Needs `dvc repro train@classifier train@evaluator`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from netinv.config.distill import DistillConfig, StudentConfig
from netinv.config.inversion import InversionConfig, SamplingConfig
from netinv.device import resolve_device, seed_everything
from netinv.distill import distill
from netinv.distill.sources import fixed_source
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.sampling import sample_balanced
from netinv.inversion.trainer import train_generator
from netinv.metrics.class_diversity import per_class_diversity
from netinv.metrics.quality import embed_and_predict, label_agreement
from netinv.models import load_model
from netinv.splits import load_prepared
from stages.config import generator_config, load_params
from stages.distill import load_teacher

OUT = Path("benchmarks/results/sweep")
# The committed pipeline's files, named as the `distill` stage's command line names them.
PATHS = argparse.Namespace(classifier=Path("models/classifier.pt"), onnx=Path("models/classifier.onnx"),
                           generator=Path("models/generator.pt"), samples=Path("outputs/inversion/samples.npz"))


def overrides(pairs: list[str]) -> dict:
    """`a.b=1 c=x` -> {"a": {"b": 1}, "c": "x"} (values parsed as YAML)."""
    tree: dict = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        *parents, leaf = key.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return tree


@dataclass(frozen=True)
class Run:
    """One benchmark run's setting: its name, the overridden params section, the data and the
    classifier, seeded as the stages seed."""

    name: str
    changes: dict
    params: Any
    cfg: Any
    device: Any
    data: Any
    classifier: Any


def setup(section: str, purpose: str) -> Run:
    """`NAME key=value...` from the command line applied to `section` of params.yaml (stopping
    with the module's usage when no name is given), then the device, seed, data and classifier."""
    main_doc = sys.modules["__main__"].__doc__
    if len(sys.argv) < 2:
        raise SystemExit(main_doc)
    name, changes = sys.argv[1], overrides(sys.argv[2:])
    params = load_params()
    cfg = getattr(params, section).overridden(changes, purpose)
    device = resolve_device(cfg.device)
    seed_everything(params.seed)
    return Run(name, changes, params, cfg, device, load_prepared("data/prepared"),
               load_model(PATHS.classifier, device))


def judged(images, labels, data, device) -> dict[str, float]:
    """The sweep judge's agreement, and coverage / pixel spread in its feature space against the
    validation split; empty until models/evaluator.pt exists."""
    if not Path("models/evaluator.pt").is_file():
        return {}
    judge = load_model("models/evaluator.pt", device)
    fake_features, judge_logits = embed_and_predict(judge, images, device=device)
    real_features, _ = embed_and_predict(judge, data.val.images, device=device)
    diversity = per_class_diversity(images, labels, fake_features, data.val.images, data.val.labels, real_features,
                                    len(data.class_names), seed=0)
    return {"eval_agreement": label_agreement(judge_logits, labels), "coverage_val": diversity["coverage"],
            "pixel_spread_ratio": diversity["pixel_spread_ratio"]}


def distill_val(images, run: Run) -> float:
    """Validation accuracy of a student distilled from `images` alone: the `distill` stage's
    recipe and teacher (params.yaml's `distill` section), the validation split standing in for
    the test split, so that nothing the stage reports as independent is read."""
    teacher = load_teacher(PATHS, run.params.distill.teacher, run.device)
    val = (run.data.val.images, run.data.val.labels)
    student = run.params.distill.build(StudentConfig, **run.data.model_shape())
    return distill(teacher, fixed_source(images), val, val, student,
                   run.params.distill.build(DistillConfig, seed=run.params.seed), run.device,
                   progress_lines=False).val_accuracy


def main() -> None:
    run = setup("invert", "the sweep")
    name, changes, params, cfg, device, data, classifier = (
        run.name, run.changes, run.params, run.cfg, run.device, run.data, run.classifier)
    generator = ConditionedGenerator(generator_config(cfg, len(data.class_names), data.image_shape))
    started = time.perf_counter()
    train_generator(generator, classifier, cfg.build(InversionConfig, seed=params.seed), device, progress=False)
    train_seconds = time.perf_counter() - started
    images, labels = sample_balanced(generator, cfg.build(SamplingConfig), params.seed + 1, device)
    _, logits = embed_and_predict(classifier, images, device=device)
    row = {"name": name, "changes": changes, "fidelity": label_agreement(logits, labels),
           "distill_val": distill_val(images, run), "train_seconds": train_seconds, **judged(images, labels, data, device)}
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "runs.jsonl").open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))


if __name__ == "__main__":
    main()
