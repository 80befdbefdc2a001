"""Stage `ood`: the garbage-class model (inversion; docs/method.md,
"Out-of-distribution detection") against post-hoc OOD detectors.

`run`: params `seed`, `ood.*`, `invert.*` (the generator of each round, with the replacements
of `ood.generator`). Inputs: the classifier, the prepared splits. Trains the (n+1)-class model round by round (resumable
from `--checkpoint`), fits MSP / MaxLogit / Energy / Mahalanobis / KNN / ViM (pytorch-ood)
on the plain classifier, scores the ID test split and every OOD set with every method.
Outputs: the detector (`--detector`), `metrics/ood.json`, ROC curves (csv + png), the
per-round table and the garbage pool per round.

`score IMAGES.npz SCORES.npz [--detector DIR]`: every method's score of every image
(higher = more likely OOD), one array per method.
"""

from __future__ import annotations

import argparse
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from netinv.atomic import save_figure, save_npz, write_csv, write_json
from netinv.config.inversion import InversionConfig
from netinv.config.ood import GarbageConfig
from netinv.device import describe, resolve_device
from netinv.errors import ConfigError
from netinv.inversion.generator import ConditionedGenerator
from netinv.models import load_model
from netinv.ood.detector import OodDetector
from netinv.ood.evaluation import Evaluation, evaluate_detector
from netinv.ood.garbage import GarbageResult, train_garbage_model
from netinv.ood.garbage_model import garbage_model_from
from netinv.ood.metrics import roc_tables
from netinv.ood.plots import (
    accepted_ood_figure,
    pool_rounds_figure,
    roc_figure,
    score_histograms_figure,
)
from netinv.ood.posthoc import fit_posthoc
from netinv.ood.sets import builtin_ood_sets, load_image_file
from netinv.splits import balanced_limit
from stages import common, runner
from stages.config import OodParams, generator_config
from stages.tracking import log_pyfunc, numeric_metrics, stage_run

log = logging.getLogger("stages.ood")


def ood_sets(cfg: OodParams, shape: tuple[int, int, int], seed: int) -> dict[str, np.ndarray]:
    """The built-in OOD sets of `ood.ood_sets`, then the user's (`ood.user_sets`)."""
    sets = builtin_ood_sets(cfg.ood_sets, shape, cfg.set_size, seed)
    for name, path in cfg.user_sets.items():
        if name in sets:
            raise ConfigError(f"ood.user_sets name {name!r} clashes with a built-in set; rename it")
        sets[name] = load_image_file(path, shape)
    return sets


def run(argv: Sequence[str]) -> None:
    p = common.parser(__doc__, classifier="", data=common.DATA, detector="directory for the saved detector",
                      metrics="", summary=common.SUMMARY, plots="", pool="directory for the garbage pool pictures",
                      checkpoint="directory for round checkpoints (not in DVC)")
    args, params = common.parse(p, argv)
    cfg = params.ood
    data, device = common.prepared_on(args.data, cfg.device, params.seed)
    classifier = load_model(args.classifier, device)
    class_names, shape = data.class_names, data.image_shape
    n = len(class_names)
    sets = ood_sets(cfg, shape, params.seed)
    log.info("OOD sets: %s; device %s", {k: len(v) for k, v in sets.items()}, describe(device))

    started = time.perf_counter()
    fit_set = balanced_limit(data.train, cfg.posthoc_fit_limit, params.seed)
    posthoc = fit_posthoc(classifier, fit_set.images, fit_set.labels, cfg.posthoc_methods, device,
                          knn_k=cfg.knn_k, vim_dim=cfg.vim_dim)
    posthoc_seconds = time.perf_counter() - started

    started = time.perf_counter()
    model = garbage_model_from(classifier, cfg.init_from_classifier)
    inverter = params.ood_generator()
    generator = ConditionedGenerator(generator_config(inverter, n + 1, shape))
    result = train_garbage_model(
        model, generator, data.train.images, data.train.labels, data.val.images, data.val.labels,
        cfg.build(GarbageConfig, seed=params.seed), inverter.build(InversionConfig, seed=params.seed),
        device, checkpoint=args.checkpoint / "rounds.pt")
    garbage_seconds = time.perf_counter() - started

    detector = OodDetector(result.model, posthoc, class_names, shape, device)
    started = time.perf_counter()
    evaluation = evaluate_detector(detector, classifier, data.test.images, data.test.labels, sets)
    metrics = {
        **evaluation.metrics,
        "pool_size": len(result.pool),
        "rounds": cfg.rounds,
        "pool_rule": cfg.pool_rule,
        "seconds": {"posthoc_fit": posthoc_seconds, "garbage_loop": garbage_seconds,
                    "scoring": time.perf_counter() - started},
        "device": str(device),
    }
    log.info("mean AUROC: %s", {m: round(v["mean_auroc"], 4) for m, v in metrics["methods"].items()})
    log.info("ID accuracy %s, ID rejected %.4f, OOD rejected %s", metrics["id_accuracy"],
             metrics["id_rejection_rate"]["garbage"], metrics["ood_rejection_rate"])
    write_outputs(args, detector, metrics, evaluation, result, sets)
    with stage_run("ood", params.mlflow.experiment, {"ood": cfg.model_dump(), "seed": params.seed}) as mlflow:
        for record in result.history:
            mlflow.log_metrics({f"round_{k}": float(v) for k, v in record.items() if k != "round"},
                               step=int(record["round"]))
        mlflow.log_metrics(numeric_metrics({k: metrics[k] for k in
                                            ("methods", "id_accuracy", "id_rejection_rate", "ood_rejection_rate")}))
        for path in (args.plots / "roc.png", args.pool / "pool_rounds.png", args.metrics, args.plots / "rounds.csv"):
            mlflow.log_artifact(str(path))
        log_detector(mlflow, args.detector, detector, data.test.images[:8])
    (args.checkpoint / "rounds.pt").unlink(missing_ok=True)  # outputs written: the next run starts afresh


def write_outputs(args: argparse.Namespace, detector: OodDetector, metrics: dict, evaluation: Evaluation,
                  result: GarbageResult, sets: dict[str, np.ndarray]) -> None:
    """The detector, metrics/ood.json and its summary, the ROC curves (all points in roc.csv, one table
    per OOD set on a shared FPR grid in roc/SET.csv, a png), the rounds table, the pool picture, the score
    histograms and the OOD inputs the garbage class accepts most confidently (for the report)."""
    detector.save(args.detector)
    write_json(args.metrics, metrics)
    top = headlines(metrics)
    common.write_summary(args.summary, top, headline_keys(top))
    write_csv(args.plots / "roc.csv", evaluation.roc_rows)
    write_roc_tables(args.plots / "roc", roc_tables(evaluation.curves))
    write_csv(args.plots / "rounds.csv", result.history)
    save_figure(args.plots / "roc.png", roc_figure(evaluation.curves, evaluation.aurocs()))
    pool, n = result.pool, len(detector.class_names)
    save_figure(args.pool / "pool_rounds.png",
                pool_rounds_figure(pool.images, pool.rounds, pool.intended, n + 1,
                                   title="garbage pool by round (columns: intended class, "
                                         f"{', '.join(detector.class_names)}, garbage)"))
    save_figure(args.pool / "scores.png", score_histograms_figure(evaluation.id_scores, evaluation.ood_scores))
    save_figure(args.pool / "accepted.png",
                accepted_ood_figure(sets, {name: scores["garbage"] for name, scores in evaluation.ood_scores.items()},
                                    evaluation.id_scores["garbage"], "garbage"))


def headlines(metrics: dict) -> dict[str, dict[str, float]]:
    """--summary (dvc metrics show): per OOD set the best AUROC of any method (`max_auroc.SET`), and
    the share the garbage class's decision rule rejects of each set (`rejected.SET`) and of the ID
    test inputs (`rejected.id`). Short names: the three default sets fit DVC's table in 160 columns."""
    sets = {name.replace(".", "_"): name for name in metrics["ood_rejection_rate"]}
    return {"max_auroc": {key: max(m[name]["auroc"] for m in metrics["methods"].values())
                          for key, name in sets.items()},
            "rejected": {**{key: metrics["ood_rejection_rate"][name] for key, name in sets.items()},
                         "id": metrics["id_rejection_rate"]["garbage"]}}


def headline_keys(top: dict[str, dict[str, float]]) -> list[str]:
    """The dotted names of every number of `headlines` (one per OOD set and group)."""
    return [f"{group}.{name}" for group, values in top.items() for name in values]


def write_roc_tables(directory: Path, tables: dict[str, list[dict]]) -> None:
    """One CSV per OOD set (fpr, then a TPR column per method), for dvc.yaml's ROC plot; the CSVs of
    sets no longer configured are removed."""
    names = {f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.csv": rows for name, rows in tables.items()}
    for stale in directory.glob("*.csv") if directory.is_dir() else ():
        if stale.name not in names:
            stale.unlink()
    for name, rows in names.items():
        write_csv(directory / name, rows)


def log_detector(mlflow, directory: Path, detector: OodDetector, images: np.ndarray) -> None:
    """The saved detector as an MLflow model (pyfunc: it is the garbage-class model plus fitted
    post-hoc detectors, no one nn.Module): uint8 images in, one score per method out; signature
    from real test images, two of them as the example."""
    import pandas as pd
    from mlflow.models import infer_signature

    scores = pd.DataFrame(detector.score(images))
    log_pyfunc(mlflow, "ood_detector", "pyfunc_ood_detector.py", {"detector": str(directory)},
               infer_signature(images, scores), images[:2],
               ("torch", "numpy", "pandas", "pydantic", "scikit-learn", "scipy", "pytorch-ood"),
               metadata={"class_names": list(detector.class_names), "methods": list(detector.methods),
                         "scores": "higher = more likely out of distribution"})


def score(argv: Sequence[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m stages.ood score",
                                description="score images with every method of a saved OOD detector")
    p.add_argument("images", type=Path, help=".npz with `images` (uint8 N×H×W or N×C×H×W)")
    p.add_argument("scores", type=Path, help=".npz to write: one array per method, higher = more likely OOD")
    p.add_argument("--detector", type=Path, default=Path("models/ood"))
    p.add_argument("--device", default="auto")
    p.add_argument("--debug", action="store_true", help="show the traceback of errors")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    detector = OodDetector.load(args.detector, device)
    images = load_image_file(args.images, detector.image_shape)
    scores = detector.score(images)
    save_npz(args.scores, **scores)
    log.info("scored %d images with %s -> %s", len(images), ", ".join(scores), args.scores)


def main(argv: Sequence[str] | None = None) -> None:
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"run": run, "score": score}
    if not argv or argv[0] not in commands:
        raise ConfigError("usage: python -m stages.ood run --classifier ... | "
                         "python -m stages.ood score IMAGES.npz SCORES.npz [--detector models/ood]")
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    runner.run(main, section={"InversionConfig": "invert", "": "ood"},
               stage=lambda argv: "ood" if argv[:1] == ["run"] else None)  # `score` logs nothing
