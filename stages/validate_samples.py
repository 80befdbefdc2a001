"""Stage `validate_samples`: a Great Expectations suite over the generated samples.

Params: `validate_samples.*` (each threshold with a severity). Inputs: the samples, the
classifier, the evaluator and the prepared data (the real reference). Outputs: the
per-sample table (CSV), `metrics/validation.json` and Data Docs (static HTML that needs no
network; the run is named `samples-SHA-TIME` by the samples file's SHA-256). A failed
critical expectation fails the stage, naming each failure and its observed value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from netinv.atomic import atomic_path, write_json
from netinv.config.validation import SampleThresholds
from netinv.errors import NetinvError
from netinv.metrics.quality import embed_and_predict
from netinv.models import load_model
from netinv.splits import first_per_class, load_prepared
from netinv.validation.samples import (
    nearest_same_class_distance,
    pixel_mean_partition,
    sample_checks,
    sample_table,
)
from netinv.validation.suite import file_run_name, run_checks
from stages import common, runner
from stages.tracking import stage_run

log = logging.getLogger("stages.validate_samples")
HEADLINES = ("critical_failures", "warnings")  # --summary (dvc metrics show): failed expectations by severity


class SampleValidationError(NetinvError):
    """A critical expectation on the generated samples failed."""


def load_samples(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["images"], data["labels"].astype(np.int64)
    except (OSError, KeyError, ValueError) as exc:
        raise NetinvError(f"{path} is missing or not a samples file ({exc}); rerun `dvc repro invert`") from exc


def headlines(result: dict) -> dict[str, int]:
    """What --summary takes of metrics/validation.json: its failed expectations, counted."""
    return {key: len(result[key]) for key in HEADLINES}


def main(argv: Sequence[str] | None = None) -> None:
    p = common.parser(__doc__, samples="samples.npz of the invert stage", classifier="", evaluator="",
                      data=common.DATA, table="per-sample table (CSV)", metrics="", summary=common.SUMMARY,
                      docs="Data Docs directory")
    args, params = common.parse(p, argv)
    cfg = params.validate_samples

    images, labels = load_samples(args.samples)
    data = load_prepared(args.data)
    device = torch.device("cpu")
    _, classifier_logits = embed_and_predict(load_model(args.classifier), images, device=device)
    _, eval_logits = embed_and_predict(load_model(args.evaluator), images, device=device)
    table = sample_table(images, labels, classifier_logits, eval_logits)
    # The real reference for the diversity check: as many test images per class as samples.
    per_class = int(np.bincount(labels).max())
    rows = first_per_class(data.test.labels, per_class, classes=labels)
    real_distance = float(np.nanmean(nearest_same_class_distance(data.test.images[rows], data.test.labels[rows])))
    checks = sample_checks(len(data.class_names), cfg.build(SampleThresholds), pixel_mean_partition(data.train.images),
                           real_distance)
    outcome = run_checks(table, checks, "generated_samples", docs_dir=args.docs,
                         run_name=file_run_name("samples", args.samples))  # Data Docs: which samples, when

    with atomic_path(args.table) as tmp:
        table.to_csv(tmp, index=False)
    result = {**outcome.as_dict(), "num_samples": len(table), "real_nearest_same_class_distance": real_distance,
              "observed": {"fidelity": float(table.classifier_agrees.mean()),
                           "eval_agreement": float(table.eval_agrees.mean()),
                           "mean_confidence": float(table.classifier_confidence.mean()),
                           "mean_nearest_same_class_distance": float(table.nearest_same_class_distance.mean())}}
    write_json(args.metrics, result)
    common.write_summary(args.summary, headlines(result), HEADLINES)
    with stage_run("validate_samples", params.mlflow.experiment, {"validate_samples": cfg.model_dump()}) as mlflow:
        mlflow.log_metrics({"validation_passed": float(outcome.success),
                            "critical_failures": float(len(outcome.failed("critical"))),
                            "warnings": float(len(outcome.failed("warning"))),
                            **{f"observed_{k}": v for k, v in result["observed"].items()}})
        mlflow.log_artifact(str(args.metrics))
        mlflow.log_artifacts(str(args.docs), artifact_path="data_docs")
    for warning in outcome.failed("warning"):
        log.warning("expectation %s failed (observed %s): a warning, the stage goes on", warning.name,
                    warning.observed)
    if not outcome.success:
        raise SampleValidationError(
            f"generated samples failed critical expectations: {outcome.describe_failures()}; "
            f"see {args.metrics} and {args.docs}/index.html. Retrain the generator (invert.*) or adjust "
            "validate_samples.* in params.yaml"
        )


if __name__ == "__main__":
    runner.run(main, section="validate_samples", stage="validate_samples")
