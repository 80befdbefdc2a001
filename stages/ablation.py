"""Stage `ablation`: conditioning mode x diversity losses, measured with the same metrics.

`run`: one cell (a mode and `none` / `cosine` / `orthogonality` / `both`): a generator
trained with `invert`'s settings and the overrides of `ablation.invert`, its samples measured like the
`invert` stage's. `summarise`: the table of all cells (`metrics/inversion_ablation.json`)
and a plot. Run all with `dvc --cd ablation repro` (ablation/ is a DVC project of its own).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from netinv.atomic import save_figure, write_json
from netinv.config.distill import DistillConfig, StudentConfig
from netinv.config.inversion import InversionConfig, SamplingConfig
from netinv.distill import distill, fixed_source
from netinv.errors import ConfigError
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.sampling import sample_balanced
from netinv.inversion.trainer import train_generator
from netinv.metrics.inversion import inversion_quality
from netinv.models import load_model
from stages import common, runner
from stages.config import ParamsError, generator_config
from stages.distill import load_teacher
from stages.tracking import numeric_metrics, stage_run

log = logging.getLogger("stages.ablation")
DIVERSITY = ("none", "cosine", "orthogonality", "both")
REPORTED = ("fidelity", "eval_agreement", "eval_agreement_heldout", "coverage", "coverage_real", "precision", "recall", "density", "pixel_spread_ratio",
            "diversity_cosine", "diversity_ssim", "fid_eval", "kid_eval", "train_seconds",
            "student_accuracy_samples", "student_accuracy_samples_val")


def measure_cell(args, params, cfg) -> dict:
    """Train a generator with `cfg`, sample it and measure the samples as `invert` does (both judges),
    plus a student distilled from them (`distill`'s recipe, on the fixed samples)."""
    data, device = common.prepared_on(args.data, cfg.device, params.seed)
    classifier, evaluator, heldout = (load_model(path, device) for path in (args.classifier, args.evaluator, args.heldout))
    num_classes = len(data.class_names)
    generator = ConditionedGenerator(generator_config(cfg, num_classes, data.image_shape))
    started = time.perf_counter()
    train_generator(generator, classifier, cfg.build(InversionConfig, seed=params.seed), device, progress=False)
    train_seconds = time.perf_counter() - started
    images, labels = sample_balanced(generator, cfg.build(SamplingConfig), params.seed + 1, device)
    quality = inversion_quality(images, labels, classifier, evaluator,
                                data.test.images, data.test.labels, num_classes, device, seed=params.seed,
                                control_images=data.train.images, control_labels=data.train.labels,
                                heldout=heldout)
    teacher = load_teacher(args, params.distill.teacher, device)  # as the distill stage's students see it
    student = distill(teacher, fixed_source(images), (data.val.images, data.val.labels),
                      (data.test.images, data.test.labels), params.distill.build(StudentConfig, **data.model_shape()),
                      params.distill.build(DistillConfig, seed=params.seed), device, progress_lines=False)
    return {"steps": cfg.generator_steps, "train_seconds": train_seconds, **{k: quality[k] for k in REPORTED if k in quality},
            "student_accuracy_samples": student.test_accuracy, "student_accuracy_samples_val": student.val_accuracy}


def run_cell(argv: Sequence[str]) -> None:
    p = common.parser(__doc__, classifier="", onnx="the classifier's ONNX export (distill.teacher)", evaluator="",
                      heldout="the held-out judge", data=common.DATA,
                      out="the cell's metrics JSON")
    p.add_argument("--mode", required=True)
    p.add_argument("--diversity", required=True, choices=DIVERSITY)
    args, params = common.parse(p, argv)
    ablation = params.ablation
    cfg = params.ablation_invert().overridden({"mode": args.mode, "weights": {
        "cos": ablation.cos if args.diversity in ("cosine", "both") else 0.0,
        "orth": ablation.orth if args.diversity in ("orthogonality", "both") else 0.0}}, "the ablation cell")
    cell = {"mode": args.mode, "diversity": args.diversity, **measure_cell(args, params, cfg)}
    log.info("%s / %s: %s", args.mode, args.diversity, {k: round(v, 3) for k, v in cell.items()
                                                         if isinstance(v, float)})
    write_json(args.out, cell)


def run_mechanism(argv: Sequence[str]) -> None:
    p = common.parser(__doc__, classifier="", onnx="the classifier's ONNX export (distill.teacher)", evaluator="",
                      heldout="the held-out judge", data=common.DATA,
                      out="the row's metrics JSON")
    p.add_argument("--name", required=True, help="a key of ablation.mechanisms")
    args, params = common.parse(p, argv)
    mechanisms = params.ablation.mechanisms
    if args.name not in mechanisms:
        raise ParamsError(f"ablation.mechanisms has no row {args.name!r}; rows: {sorted(mechanisms)}")
    cfg = params.ablation_invert().overridden(mechanisms[args.name], f"ablation.mechanisms.{args.name}")
    row = {"mechanism": args.name, "changes": mechanisms[args.name], **measure_cell(args, params, cfg)}
    log.info("%s: %s", args.name, {k: round(v, 3) for k, v in row.items() if isinstance(v, float)})
    write_json(args.out, row)


PANELS = {"eval_agreement": "sweep judge agreement", "eval_agreement_heldout": "held-out judge agreement",
          "coverage": "coverage (dashed: as many real images)", "student_accuracy_samples_val": "distilled student, val"}


def plot_cells(cells: list[dict]):
    """One panel per yardstick, the modes along x, one bar per diversity setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(dict.fromkeys(c["mode"] for c in cells))
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 4))
    for ax, (key, title) in zip(axes, PANELS.items(), strict=True):
        for i, diversity in enumerate(DIVERSITY):
            values = [next((c.get(key, np.nan) for c in cells if c["mode"] == m and c["diversity"] == diversity),
                           np.nan) for m in modes]
            ax.bar(np.arange(len(modes)) + (i - 1.5) * 0.2, values, width=0.2, label=diversity)
        if key == "coverage":
            ax.axhline(cells[0]["coverage_real"], color="black", linestyle="--", linewidth=1)
        ax.set_xticks(np.arange(len(modes)), modes, rotation=15)
        ax.set_title(title)
        ax.set_ylim(0, 1)
    axes[0].legend(title="diversity losses", fontsize=8)
    fig.tight_layout()
    return fig


def summarise(argv: Sequence[str]) -> None:
    p = common.parser(__doc__, metrics="", plot="")
    p.add_argument("--runs", required=True, type=Path, nargs="+", help="cell metrics files")
    args, params = common.parse(p, argv)
    cells = [json.loads(path.read_text()) for path in args.runs]
    best = max(cells, key=lambda c: (c["eval_agreement"], c["coverage"]))
    write_json(args.metrics, {"cells": cells, "best": {"mode": best["mode"], "diversity": best["diversity"]},
                              "steps": params.ablation_invert().generator_steps})
    save_figure(args.plot, plot_cells(cells))
    with stage_run("ablation", params.mlflow.experiment, {"ablation": params.ablation.model_dump()}) as mlflow:
        for cell in cells:
            prefix = f"{cell['mode']}.{cell['diversity']}"
            mlflow.log_metrics(numeric_metrics({prefix: {k: v for k, v in cell.items() if k in REPORTED}}))
        mlflow.log_artifact(str(args.plot))
        mlflow.log_artifact(str(args.metrics))


def summarise_mechanisms(argv: Sequence[str]) -> None:
    p = common.parser(__doc__, metrics="")
    p.add_argument("--runs", required=True, type=Path, nargs="+", help="row metrics files")
    args, params = common.parse(p, argv)
    rows = [json.loads(path.read_text()) for path in args.runs]
    write_json(args.metrics, {"rows": rows, "steps": params.ablation_invert().generator_steps})
    with stage_run("ablation_mechanisms", params.mlflow.experiment, {"ablation": params.ablation.model_dump()}) as mlflow:
        for row in rows:
            mlflow.log_metrics(numeric_metrics({row["mechanism"]: {k: v for k, v in row.items()
                                                                   if isinstance(v, float)}}))
        mlflow.log_artifact(str(args.metrics))


def main(argv: Sequence[str] | None = None) -> None:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"run": run_cell, "mechanism": run_mechanism, "summarise": summarise,
                "summarise-mechanisms": summarise_mechanisms}
    if not argv or argv[0] not in commands:
        raise ConfigError(f"usage: python -m stages.ablation {{{'|'.join(commands)}}} ...")
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    runner.run(main, stage=lambda argv: {"summarise": "ablation", "summarise-mechanisms": "ablation_mechanisms"}
               .get(argv[0] if argv else ""))  # the cells log nothing of their own
