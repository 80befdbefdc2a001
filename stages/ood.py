"""Stage `ood`: the garbage-class model (inversion, method.md §3) against post-hoc OOD detectors.

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
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from netinv.atomic import save_figure, save_npz, write_csv, write_json
from netinv.device import describe, resolve_device, seed_everything
from netinv.models import load_model
from netinv.ood.detector import OodDetector
from netinv.ood.garbage import GarbageConfig, class_probs, garbage_model_from, train_garbage_model
from netinv.ood.metrics import CONVENTIONS, ood_metrics, roc_points
from netinv.ood.plots import pool_rounds_figure, roc_figure
from netinv.ood.posthoc import fit_posthoc
from netinv.ood.sets import builtin_ood_sets, load_image_file
from netinv.splits import balanced_limit, load_prepared
from stages import runner
from stages.config import OodParams, load_params
from stages.inversion_setup import build_generator, inversion_config
from stages.tracking import numeric_metrics, stage_run

log = logging.getLogger("stages.ood")


def garbage_config(cfg: OodParams, seed: int) -> GarbageConfig:
    return GarbageConfig(
        rounds=cfg.rounds, initial_noise=cfg.initial_noise, pool_per_round=cfg.pool_per_round,
        pool_rule=cfg.pool_rule, uncertain_fraction=cfg.uncertain_fraction, generator_steps=cfg.generator_steps,
        sample_temperature=cfg.sample_temperature, batch_size=cfg.batch_size, lr=cfg.lr,
        weight_decay=cfg.weight_decay, real_per_round=cfg.real_per_round, pool_augment=cfg.pool_augment,
        closing_epoch=cfg.closing_epoch, seed=seed)


def table(rows: list[dict]) -> list[dict]:
    """Rows with the union of their keys (blank where a row lacks one): what write_csv needs."""
    keys = list(dict.fromkeys(k for row in rows for k in row))
    return [{k: row.get(k, "") for k in keys} for row in rows]


def run(argv: Sequence[str]) -> None:
    p = runner.parser(__doc__)
    p.add_argument("--classifier", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path, help="prepared data directory")
    p.add_argument("--detector", required=True, type=Path, help="directory for the saved detector")
    p.add_argument("--metrics", required=True, type=Path)
    p.add_argument("--plots", required=True, type=Path)
    p.add_argument("--pool", required=True, type=Path, help="directory for the garbage pool pictures")
    p.add_argument("--checkpoint", required=True, type=Path, help="directory for round checkpoints (not in DVC)")
    args = p.parse_args(argv)
    params = load_params(args.params)
    cfg = params.ood

    data = load_prepared(args.data)
    device = resolve_device(cfg.device)
    seed_everything(params.seed)
    classifier = load_model(args.classifier, device)
    class_names, shape = data.class_names, data.image_shape
    n = len(class_names)
    ood_sets = builtin_ood_sets(cfg.ood_sets, shape, cfg.set_size, params.seed)
    for name, path in cfg.user_sets.items():
        if name in ood_sets:
            raise ValueError(f"ood.user_sets name {name!r} clashes with a built-in set; rename it")
        ood_sets[name] = load_image_file(path, shape)
    log.info("OOD sets: %s; device %s", {k: len(v) for k, v in ood_sets.items()}, describe(device))

    started = time.perf_counter()
    fit_set = balanced_limit(data.train, cfg.posthoc_fit_limit, params.seed)
    posthoc = fit_posthoc(classifier, fit_set.images, fit_set.labels, cfg.posthoc_methods, device,
                          knn_k=cfg.knn_k, vim_dim=cfg.vim_dim)
    posthoc_seconds = time.perf_counter() - started

    started = time.perf_counter()
    model = garbage_model_from(classifier, cfg.init_from_classifier)
    inverter = cfg.generator.applied_to(params.invert)
    generator = build_generator(inverter, n + 1, shape)
    result = train_garbage_model(
        model, generator, data.train.images, data.train.labels, data.val.images, data.val.labels,
        garbage_config(cfg, params.seed), inversion_config(inverter, params.seed, checkpoint_every=10**9),
        device, checkpoint=args.checkpoint / "rounds.pt")
    garbage_seconds = time.perf_counter() - started

    detector = OodDetector(result.model, posthoc, class_names, shape, device)
    started = time.perf_counter()
    id_scores = detector.score(data.test.images)
    ood_scores = {name: detector.score(images) for name, images in ood_sets.items()}
    methods: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    roc_rows = []
    for method in detector.methods:
        methods[method], curves[method] = {}, {}
        for name in ood_sets:
            methods[method][name] = ood_metrics(id_scores[method], ood_scores[name][method])
            fpr, tpr = curves[method][name] = roc_points(id_scores[method], ood_scores[name][method])
            roc_rows += [{"method": method, "ood_set": name, "fpr": float(f), "tpr": float(t)}
                         for f, t in zip(fpr, tpr, strict=True)]
        methods[method]["mean_auroc"] = float(np.mean([methods[method][s]["auroc"] for s in ood_sets]))
    test_probs = class_probs(result.model, data.test.images, device)
    plain_logits = class_probs(classifier, data.test.images, device)
    metrics = {
        "methods": methods,
        "id_accuracy": {"garbage": float(np.mean(test_probs[:, :n].argmax(1) == data.test.labels)),
                        "plain": float(np.mean(plain_logits.argmax(1) == data.test.labels))},
        "id_rejection_rate": {"garbage": float(np.mean(test_probs.argmax(1) == n))},
        "ood_rejection_rate": {name: float(np.mean(class_probs(result.model, images, device).argmax(1) == n))
                               for name, images in ood_sets.items()},
        "best_method": max(methods, key=lambda m: methods[m]["mean_auroc"]),
        "conventions": CONVENTIONS,
        "ood_sets": {name: len(images) for name, images in ood_sets.items()},
        "num_id_test": len(data.test.images),
        "pool_size": len(result.pool),
        "rounds": cfg.rounds,
        "pool_rule": cfg.pool_rule,
        "seconds": {"posthoc_fit": posthoc_seconds, "garbage_loop": garbage_seconds,
                    "scoring": time.perf_counter() - started},
        "device": str(device),
    }
    log.info("mean AUROC: %s", {m: round(v["mean_auroc"], 4) for m, v in methods.items()})
    log.info("ID accuracy %s, ID rejected %.4f, OOD rejected %s", metrics["id_accuracy"],
             metrics["id_rejection_rate"]["garbage"], metrics["ood_rejection_rate"])

    detector.save(args.detector)
    write_json(args.metrics, metrics)
    write_csv(args.plots / "roc.csv", roc_rows)
    write_csv(args.plots / "rounds.csv", table(result.history))
    save_figure(args.plots / "roc.png", roc_figure(curves, {m: {s: v[s]["auroc"] for s in ood_sets}
                                                            for m, v in methods.items()}))
    pool = result.pool
    save_figure(args.pool / "pool_rounds.png",
                pool_rounds_figure(pool.images, pool.rounds, pool.intended, n + 1,
                                   title="garbage pool by round (columns: intended class, "
                                         f"{', '.join(class_names)}, garbage)"))
    with stage_run("ood", params.mlflow.experiment, {"ood": cfg.model_dump(), "seed": params.seed}) as mlflow:
        for record in result.history:
            mlflow.log_metrics({f"round_{k}": float(v) for k, v in record.items() if k != "round"},
                               step=int(record["round"]))
        mlflow.log_metrics(numeric_metrics({k: metrics[k] for k in
                                            ("methods", "id_accuracy", "id_rejection_rate", "ood_rejection_rate")}))
        for path in (args.plots / "roc.png", args.pool / "pool_rounds.png", args.metrics, args.plots / "rounds.csv"):
            mlflow.log_artifact(str(path))
    (args.checkpoint / "rounds.pt").unlink(missing_ok=True)  # outputs written: the next run starts afresh


def score(argv: Sequence[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m stages.ood score",
                                description="score images with every method of a saved OOD detector")
    p.add_argument("images", type=Path, help=".npz with `images` (uint8 N×H×W or N×C×H×W)")
    p.add_argument("scores", type=Path, help=".npz to write: one array per method, higher = more likely OOD")
    p.add_argument("--detector", type=Path, default=Path("models/ood"))
    p.add_argument("--device", default="auto")
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
        raise ValueError("usage: python -m stages.ood run --classifier ... | "
                         "python -m stages.ood score IMAGES.npz SCORES.npz [--detector models/ood]")
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    runner.run(main)
