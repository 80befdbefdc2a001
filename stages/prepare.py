"""Stage `prepare`: read the configured dataset, validate it, write train/val/test splits.

Params: `seed`, `data.*`. Outputs: the prepared directory (`train.npz`, `val.npz`,
`test.npz`, `meta.json`), a data profile and the Great Expectations results. The
checks run before the splits are written, so a failed check leaves the previous
splits as they were.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from netinv.atomic import write_json
from netinv.data import DatasetError, load_dataset
from netinv.splits import balanced_limit, channel_stats, save_prepared, stratified_split
from netinv.validation.dataset import dataset_checks, image_table
from netinv.validation.suite import run_checks
from stages import common, runner
from stages.tracking import numeric_metrics, stage_run

log = logging.getLogger("stages.prepare")
# --summary (dvc metrics show): the split sizes and the failed data checks, counted by severity
HEADLINES = ("images.train", "images.val", "images.test", "critical_failures", "warnings")


def split_profile(images: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> dict:
    counts = np.bincount(labels, minlength=len(class_names))
    return {
        "count": len(labels),
        "class_counts": {name: int(c) for name, c in zip(class_names, counts, strict=True)},
        "pixel_mean": float(images.mean() / 255.0),
        "pixel_std": float(images.std() / 255.0),
    }


def headlines(profile: dict, validation: dict) -> dict:
    """What --summary takes of metrics/data_profile.json and metrics/data_validation.json."""
    return {"images": {name: split["count"] for name, split in profile["splits"].items()},
            **{key: len(validation[key]) for key in ("critical_failures", "warnings")}}


def main(argv: Sequence[str] | None = None) -> None:
    p = common.parser(__doc__, out=common.DATA, profile="data profile JSON", validation="expectation results JSON",
                      summary=common.SUMMARY)
    args, params = common.parse(p, argv)
    cfg = params.data

    source = load_dataset(cfg.name, cfg.root)
    train = balanced_limit(source.train, cfg.train_limit, params.seed)
    if source.test is None:
        train, test = stratified_split(train, cfg.test_fraction, params.seed)
    else:
        test = balanced_limit(source.test, cfg.test_limit, params.seed)
    train, val = stratified_split(train, cfg.val_fraction, params.seed)
    log.info("%s: %d train / %d val / %d test images of shape %s", cfg.name, len(train), len(val), len(test),
             train.image_shape)

    everything = np.concatenate([train.images, val.images, test.images])
    labels = np.concatenate([train.labels, val.labels, test.labels])
    outcome = run_checks(image_table(everything, labels), dataset_checks(train.num_classes, cfg.max_class_kl),
                         suite_name="input_data")
    mean, std = channel_stats(train.images)
    meta = {
        "dataset": cfg.name,
        "source": source.train.source,
        "class_names": list(train.class_names),
        "image_shape": list(train.image_shape),
        "mean": mean,
        "std": std,
    }
    profile = {
        **meta,
        "splits": {name: split_profile(ds.images, ds.labels, train.class_names)
                   for name, ds in (("train", train), ("val", val), ("test", test))},
    }
    write_json(args.profile, profile)
    write_json(args.validation, outcome.as_dict())
    common.write_summary(args.summary, headlines(profile, outcome.as_dict()), HEADLINES)
    with stage_run("prepare", params.mlflow.experiment, {"data": cfg.model_dump(), "seed": params.seed}) as mlflow:
        mlflow.log_metrics(numeric_metrics({"splits": {k: v["count"] for k, v in profile["splits"].items()}}))
        mlflow.log_metric("data_checks_passed", float(outcome.success))
        mlflow.log_artifact(str(args.profile))
        mlflow.log_artifact(str(args.validation))
    if not outcome.success:
        raise DatasetError(
            f"input data from {source.train.source} failed its checks: {outcome.describe_failures()}; "
            f"see {args.validation}. Fix the data, or relax data.max_class_kl in params.yaml for "
            "deliberately imbalanced data"
        )
    for warning in outcome.failed("warning"):
        log.warning("data check %s failed (observed %s)", warning.name, warning.observed)
    save_prepared(args.out, train, val, test, meta)


if __name__ == "__main__":
    runner.run(main, section="data", stage="prepare")
