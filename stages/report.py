"""Stage `report`: one self-contained HTML page of a pipeline run.

Params: `report.*`. Inputs: whatever metrics and plots exist (the classifier's metrics
and confusion matrix, the inversion grids, the distillation table, the validation summary, the OOD table and ROC
curves, the reconstruction pairs and leakage curve); a section whose inputs are missing
says "not run". Output: `reports/report.html`, images embedded as base64 PNG, no
network, no script; logged to MLflow. The sections and the rendering are library code
(audit/report.py), shared with the production audit's report.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

from audit.report import (
    NOT_RUN,
    classifier_section,
    distill_section,
    inversion_section,
    ood_section,
    reconstruction_section,
    render,
    validation_section,
)
from netinv.atomic import write_text
from stages import runner
from stages.config import load_params
from stages.tracking import git_commit, stage_run

log = logging.getLogger("stages.report")


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
    p.add_argument("--reconstruction-metrics", type=Path)
    p.add_argument("--reconstruction-outputs", type=Path)
    p.add_argument("--reconstruction-plots", type=Path)
    p.add_argument("--out", required=True, type=Path, help="HTML file to write")
    args = p.parse_args(argv)
    params = load_params(args.params)
    cfg = params.report

    sections = [
        classifier_section(args.classifier_metrics, args.confusion, args.onnx_metrics),
        inversion_section(args.inversion_metrics, args.samples, cfg.max_grids),
        distill_section(args.distill_metrics),
        validation_section(args.validation),
        ood_section(args.ood_metrics, args.ood_plots),
        reconstruction_section(args.reconstruction_metrics, args.reconstruction_outputs, args.reconstruction_plots),
    ]
    meta = [("generated", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
            ("git commit", (git_commit() or "unknown")[:12])]
    write_text(args.out, render(cfg.title, sections, meta))
    log.info("report written to %s (%s)", args.out,
             ", ".join(f"{s.title}: {s.status}" for s in sections))
    with stage_run("report", params.mlflow.experiment, {"report": cfg.model_dump()}) as mlflow:
        mlflow.log_metrics({"sections_not_run": float(sum(s.status == NOT_RUN for s in sections))})
        mlflow.log_artifact(str(args.out))


if __name__ == "__main__":
    runner.run(main, section="report")
