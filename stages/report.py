"""Stage `report`: one self-contained HTML page of a pipeline run.

Params: `report.*` (`report.verdicts`: the card's thresholds) and `validate_samples.*` (the
thresholds the validation table shows).
Inputs: whatever metrics and plots exist (the classifier's metrics and confusion matrix, the
inversion grids, the distillation table, the validation summary, the OOD table, ROC curves and
garbage pool, the reconstruction pairs and leakage curve); a section whose inputs are missing
says "not run". The page opens with the verdict card (audit.verdict.pipeline_verdicts, held to
`report.verdicts`). Output: `reports/report.html`, images embedded as base64 PNG, no network, no script;
logged to MLflow. The sections and the rendering are library code (audit/report.py), shared
with the production audit's report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from audit.report import (
    NOT_RUN,
    Section,
    card_lines,
    class_names_from_grids,
    classifier_section,
    distill_section,
    inversion_section,
    judged_sections,
    ood_section,
    read_json,
    reconstruction_section,
    render,
    validation_section,
)
from audit.verdict import Verdict, pipeline_verdicts, read_metrics
from netinv.atomic import write_text
from stages import runner
from stages.config import Params, load_params
from stages.tracking import git_commit, stage_run

log = logging.getLogger("stages.report")
WORST_GRIDS = 3  # per-class grids embedded at most (the classes the judge agrees with least)


def class_names(meta: Path | None, classifier_metrics: Path | None, samples: Path | None) -> list[str]:
    """Class names in index order: a prepared-data meta.json when given, else the invert stage's grid
    file names (spelled as in the classifier's per-class accuracy); [] when unknown (indices are shown)."""
    found = read_json(meta)
    if found and isinstance(found.get("class_names"), list):
        return [str(n) for n in found["class_names"]]
    known = list((read_json(classifier_metrics) or {}).get("per_class_accuracy", {}))
    return class_names_from_grids(samples / "grids" if samples else None, known)


def verdicts_of(args: argparse.Namespace, params: Params) -> list[Verdict]:
    """The verdict card: audit.verdict.pipeline_verdicts on the metrics files the report was given,
    held to `report.verdicts` of params.yaml; a metrics file that is not JSON stops the stage, named."""
    metrics = {"inversion": args.inversion_metrics, "distill": args.distill_metrics, "validation": args.validation,
               "ood": args.ood_metrics, "reconstruction": args.reconstruction_metrics}
    return pipeline_verdicts(read_metrics(metrics), params.report.verdicts)


def main(argv: Sequence[str] | None = None) -> None:
    p = runner.parser(__doc__)
    p.add_argument("--classifier-metrics", type=Path)
    p.add_argument("--confusion", type=Path, help="confusion matrix PNG")
    p.add_argument("--onnx-metrics", type=Path)
    p.add_argument("--inversion-metrics", type=Path)
    p.add_argument("--samples", type=Path, help="the invert stage's samples directory (overview.png, grids/)")
    p.add_argument("--distill-metrics", type=Path)
    p.add_argument("--validation", type=Path)
    p.add_argument("--ood-metrics", type=Path)
    p.add_argument("--ood-plots", type=Path)
    p.add_argument("--ood-pool", type=Path, help="the OOD stage's pool directory (pool_rounds.png, accepted.png)")
    p.add_argument("--reconstruction-metrics", type=Path)
    p.add_argument("--reconstruction-outputs", type=Path)
    p.add_argument("--reconstruction-plots", type=Path)
    p.add_argument("--class-names", type=Path, help="a prepared-data meta.json naming the classes "
                                                   "(default: read from the grid file names)")
    p.add_argument("--out", required=True, type=Path, help="HTML file to write")
    args = p.parse_args(argv)
    params = load_params(args.params)
    cfg = params.report
    names = class_names(args.class_names, args.classifier_metrics, args.samples)

    sections: list[Section] = [
        classifier_section(args.classifier_metrics, args.confusion, args.onnx_metrics, names),
        inversion_section(args.inversion_metrics, args.samples, min(cfg.max_grids, WORST_GRIDS), names),
        distill_section(args.distill_metrics),
        validation_section(args.validation, thresholds=params.validate_samples),
        ood_section(args.ood_metrics, args.ood_plots, args.ood_pool),
        reconstruction_section(args.reconstruction_metrics, args.reconstruction_outputs, args.reconstruction_plots),
    ]
    verdicts = verdicts_of(args, params)
    meta = [("generated", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
            ("git commit", (git_commit() or "unknown")[:12])]
    write_text(args.out, render(cfg.title, sections, meta, verdicts=verdicts))
    shown = judged_sections(sections, card_lines(verdicts, sections))  # the badges as the page shows them
    log.info("report written to %s (%s; verdicts: %s)", args.out,
             ", ".join(f"{s.title}: {s.status}" for s in shown), json.dumps({v.topic: v.status for v in verdicts}))
    with stage_run("report", params.mlflow.experiment, {"report": cfg.model_dump()}) as mlflow:
        mlflow.log_metrics({"sections_not_run": float(sum(s.status == NOT_RUN for s in sections))})
        mlflow.log_artifact(str(args.out))


if __name__ == "__main__":
    runner.run(main, section="report", stage="report")
