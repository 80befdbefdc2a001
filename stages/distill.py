"""Stage `distill`: data-free knowledge distillation, the downstream yardstick of the inversion.

Params: `seed`, `distill.*`, and `invert.sample_temperature` / `invert.sample_with_dropout`
(the online generator samples as the released samples were drawn). Inputs: the classifier
(the teacher: its ONNX export through onnxruntime on CPU, `distill.teacher`), the generator,
the released samples and the prepared data. Four fresh
students of one architecture (netinv.models.student), trained by one recipe on: the
released samples (`student_accuracy_samples`), fresh generator samples every step
(`student_accuracy_online`), as many class-balanced real training images as there are
samples (`real_same_count`, the ceiling) and as many uniform-noise images (`noise_floor`).
Each reports test accuracy (read by nothing) and `*_val` (what any selection may read).
Outputs: `metrics/distill.json`, learning curves `plots/distill/curves.csv`.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from netinv.atomic import write_csv, write_json
from netinv.config.distill import DistillConfig, StudentConfig
from netinv.config.inversion import SamplingConfig
from netinv.device import describe
from netinv.distill import (
    DistillResult,
    Source,
    accuracy,
    distill,
    fixed_source,
    generator_source,
    noise_images,
)
from netinv.errors import NetinvError
from netinv.export import OnnxRuntimeClassifier
from netinv.models import load_model
from netinv.models.student import LeNetStudent
from netinv.splits import Prepared, balanced_limit
from stages import common, runner
from stages.config import Params
from stages.tracking import numeric_metrics, stage_run

log = logging.getLogger("stages.distill")

# metric name of each student's test accuracy; its validation accuracy is the same name + "_val"
STUDENTS = {"samples": "student_accuracy_samples", "online": "student_accuracy_online",
            "real": "real_same_count", "noise": "noise_floor"}
HEADLINES = tuple(STUDENTS.values())  # --summary (dvc metrics show): the four students' test accuracies


def load_samples(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as saved:
            return saved["images"]
    except (OSError, KeyError, ValueError) as exc:
        raise NetinvError(f"{path} is missing or not a samples file with an `images` array ({exc})",
                          rebuild=True) from exc


def sources(args: argparse.Namespace, params: Params, data: Prepared,
            device: torch.device) -> tuple[dict[str, Source], int]:
    """The four sources and their one count, the released samples' (online draws fresh images instead)."""
    samples = load_samples(args.samples)
    if samples.shape[1:] != data.image_shape:
        raise NetinvError(f"{args.samples} holds images of shape {samples.shape[1:]}, the data {data.image_shape}: "
                          "the samples come from another dataset's generator; rerun the inversion", rebuild=True)
    count = len(samples)
    real = balanced_limit(data.train, count, params.seed).images  # fixed seed: the same ceiling every run
    sampling = params.invert.build(SamplingConfig)
    generator = load_model(args.generator, device)
    return {"samples": fixed_source(samples),
            "online": generator_source(generator, sampling.sample_temperature, sampling.sample_with_dropout, device),
            "real": fixed_source(real),
            "noise": fixed_source(noise_images(count, data.image_shape, params.seed))}, count


def load_teacher(args: argparse.Namespace, runtime: str, device: torch.device) -> torch.nn.Module:
    """The classifier as the students' teacher. `auto`: the ONNX export through onnxruntime on
    CPU, where it answers several times faster than eager PyTorch and the teacher's forward
    pass is most of a student's cost; the PyTorch model on an accelerator. Its threads do not
    spin between calls: spinning takes the cores from the student's PyTorch step in between
    (a whole student step: 24 ms with spinning, 12 ms without; benchmarks/teacher_runtime.py)."""
    if runtime == "auto":
        runtime = "onnxruntime" if device.type == "cpu" else "torch"
    if runtime == "onnxruntime":
        return OnnxRuntimeClassifier(args.onnx, threads=torch.get_num_threads(), spin=False)
    return load_model(args.classifier, device)


def main(argv: Sequence[str] | None = None) -> None:
    p = common.parser(__doc__, classifier="the teacher", onnx="the teacher's ONNX export (distill.teacher)",
                      generator="", samples="samples.npz of the invert stage",
                      data=common.DATA, metrics="", summary=common.SUMMARY,
                      plots="directory for the learning curves")
    args, params = common.parse(p, argv)
    cfg = params.distill
    data, device = common.prepared_on(args.data, cfg.device, params.seed)
    started = time.perf_counter()
    teacher = load_teacher(args, cfg.teacher, device)
    student = cfg.build(StudentConfig, **data.model_shape())
    config = cfg.build(DistillConfig, seed=params.seed)
    val, test = (data.val.images, data.val.labels), (data.test.images, data.test.labels)
    results: dict[str, DistillResult] = {}
    drawn, count = sources(args, params, data, device)
    for name, source in drawn.items():
        log.info("distilling into a student from %s on %s", name, describe(device))
        results[name] = distill(teacher, source, val, test, student, config, device)
        log.info("%s: test accuracy %.3f (val %.3f) in %.0fs", name, results[name].test_accuracy,
                 results[name].val_accuracy, results[name].seconds)
    metrics = summary(results, student, config, accuracy(teacher, test, device), count)
    metrics.update(seconds=time.perf_counter() - started, device=str(device), threads=torch.get_num_threads(),
                   teacher_runtime=type(teacher).__name__)
    write_json(args.metrics, metrics)
    common.write_summary(args.summary, metrics, HEADLINES)
    write_csv(args.plots / "curves.csv", [{"source": name, **row} for name, r in results.items() for row in r.history])
    write_csv(args.plots / "val_accuracy.csv", val_accuracy_table(results))
    logged = {"distill": cfg.model_dump(), "seed": params.seed,
              "invert": {k: getattr(params.invert, k) for k in ("sample_temperature", "sample_with_dropout")}}
    with stage_run("distill", params.mlflow.experiment, logged) as mlflow:
        for name, result in results.items():
            for row in result.history:
                mlflow.log_metrics({f"{name}_loss": row["loss"], f"{name}_val_accuracy": row["val_accuracy"]},
                                   step=int(row["step"]))
        mlflow.log_metrics(numeric_metrics(metrics))
        mlflow.log_artifact(str(args.metrics))
        mlflow.log_artifact(str(args.plots / "curves.csv"))


def val_accuracy_table(results: dict[str, DistillResult]) -> list[dict[str, float]]:
    """The learning curves side by side, for dvc.yaml's plot of one line per source: a row per
    evaluated step, `step` then each source's validation accuracy (the sources share the steps)."""
    steps = [row["step"] for row in next(iter(results.values())).history]
    for name, result in results.items():
        if [row["step"] for row in result.history] != steps:
            raise ValueError(f"the {name} student was evaluated at other steps than the others")
    return [{"step": step, **{name: r.history[i]["val_accuracy"] for name, r in results.items()}}
            for i, step in enumerate(steps)]


def summary(results: dict[str, DistillResult], student: StudentConfig, config: DistillConfig,
            teacher_accuracy: float, num_samples: int) -> dict[str, object]:
    """metrics/distill.json: each student's test and validation accuracy, the teacher's, the setting."""
    metrics: dict[str, object] = {"teacher_accuracy": teacher_accuracy, "num_samples": num_samples,
                                  "steps": config.steps, "temperature": config.temperature, "cutmix": config.cutmix}
    for name, key in STUDENTS.items():
        metrics[key] = results[name].test_accuracy
        metrics[f"{key}_val"] = results[name].val_accuracy
        metrics[f"{key}_seconds"] = results[name].seconds
    metrics["student"] = {"arch": "lenet", "parameters": LeNetStudent(student).num_parameters(),
                          "channels": list(student.student_channels), "hidden": list(student.student_hidden)}
    return metrics


if __name__ == "__main__":
    runner.run(main, section="distill", stage="distill")
