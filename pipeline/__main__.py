"""Command line of the flows.

  python -m pipeline train [--stages S ...] [--no-promote]   the training flow
  python -m pipeline promote                                   the promotion gate on what `dvc repro` built
  python -m pipeline audit [MODEL] [--profile NAME]            audit a models:/ URI or an .onnx / .pt file
  python -m pipeline audit-many MODEL ... [--dask-address A]   audit several models in parallel on Dask
  python -m pipeline serve [--audit-interval SECONDS]          serve both deployments (needs a Prefect server)

What can be checked up front is, before any flow starts (the tracking store, params.yaml, the
audit profile, a model file): a mistake ends in one line naming it and the fix, exit 1, no
traceback (`--debug` shows it). An audit prints its verdict to stderr (PASS / FAIL, the three
answers, every failure and warning), then its summary as JSON to stdout, and exits 1 when it fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netinv.errors import ModelFileError, NetinvError
from netinv.progress import quiet_off_terminal
from stages.tracking import check_store, redact


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", help="show the traceback of errors")
    sub = p.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", parents=[debug],
                           help="run the DVC stages as a Prefect flow, then the promotion gate")
    train.add_argument("--params", default="params.yaml")
    train.add_argument("--stages", nargs="+", help="only these stages (names as in `dvc stage list`)")
    train.add_argument("--no-promote", action="store_true", help="skip the promotion gate")
    promote = sub.add_parser("promote", parents=[debug], help="the promotion gate on the workspace `dvc repro` "
                                                               "built: @candidate -> @champion when it has earned it")
    promote.add_argument("--params", default="params.yaml")
    promote.add_argument("--reports", help="reports directory of the candidate's audit (default: audit.reports)")
    audit = sub.add_parser("audit", parents=[debug], help="audit a production model")
    audit.add_argument("model", nargs="?", help="models:/NAME@ALIAS, models:/NAME/VERSION or a model file "
                                                "(default: audit.model in params.yaml)")
    audit.add_argument("--profile", help="audit profile (default: audit.profile)")
    audit.add_argument("--params", default="params.yaml")
    audit.add_argument("--reports", help="reports directory (default: audit.reports)")
    many = sub.add_parser("audit-many", parents=[debug], help="audit several models in parallel on a Dask cluster")
    many.add_argument("models", nargs="+", help="models:/ URIs or model files")
    many.add_argument("--profile", help="audit profile (default: audit.profile)")
    many.add_argument("--params", default="params.yaml")
    many.add_argument("--reports", help="reports directory (default: audit.reports)")
    many.add_argument("--dask-address", help="scheduler of an existing Dask cluster (default: a local one)")
    many.add_argument("--workers", type=int, default=2, help="processes of the local Dask cluster")
    serve = sub.add_parser("serve", parents=[debug], help="serve the weekly training and nightly audit deployments")
    serve.add_argument("--audit-interval", type=float, help="run the audit every N seconds instead of nightly")
    serve.add_argument("--audit-model", help="model the served audit checks (default: the champion)")
    serve.add_argument("--audit-profile", help="audit profile of the served audit")
    serve.add_argument("--audit-only", action="store_true", help="serve the audit deployment alone")
    return p


def preflight(args: argparse.Namespace) -> None:
    """Refuse, before any flow starts, what would otherwise fail after minutes of work."""
    check_store()
    if args.command == "serve":
        return
    from stages.config import load_params

    params = load_params(args.params)
    if args.command == "audit":
        params.audit.get_profile(args.profile)
    if args.command in ("audit", "audit-many"):
        from audit.engine import JUDGES, judge_path

        for key in JUDGES:  # both judges, before minutes of inversion
            judge_path(params, key)
    for model in [args.model or params.audit.model] if args.command == "audit" else getattr(args, "models", []):
        if not model.startswith("models:/") and not Path(model).is_file():
            raise ModelFileError(f"model file {model} does not exist; pass an .onnx / .pt file or a models:/ URI")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_off_terminal()  # MLflow's transfer bars, off a terminal (a scheduled audit's log)
    try:
        preflight(args)
        return promote(args) if args.command == "promote" else dispatch(args)
    except NetinvError as exc:
        if args.debug or os.environ.get("NETINV_TRACEBACK"):
            raise
        print(f"error: {redact(str(exc))}\n(--debug shows the full traceback)", file=sys.stderr)
        return 1


def dispatch(args: argparse.Namespace) -> int:
    state: Any
    if args.command == "train":
        from pipeline.training import training_pipeline

        state = training_pipeline(params_file=args.params, stages=args.stages, promote=not args.no_promote,
                                  return_state=True)
    elif args.command == "audit":
        from pipeline.audit import audit_production

        state = audit_production(model=args.model, profile=args.profile, params_file=args.params,
                                 reports=args.reports, return_state=True)
    elif args.command == "audit-many":
        from pipeline.audit import audit_many, dask_runner

        runner = dask_runner(args.dask_address, args.workers)
        state = audit_many.with_options(task_runner=runner)(
            models=args.models, profile=args.profile, params_file=args.params, reports=args.reports,
            return_state=True)
    else:
        from pipeline.deploy import serve_all

        overrides = {k: v for k, v in (("model", args.audit_model), ("profile", args.audit_profile)) if v}
        serve_all(args.audit_interval, overrides, args.audit_only)
        return 0
    audits = audit_summaries(state.result(raise_on_failure=False)) if args.command != "train" else []
    for summary in audits:
        print(redact(summary_text(summary)), file=sys.stderr)
    if not state.is_completed():
        print(redact(f"{state.name}: {state.message}"), file=sys.stderr)
        if audits:  # a failed audit still has its summary: the same JSON as a passed one
            print(json.dumps(audits if args.command == "audit-many" else audits[0], indent=2, default=str))
        return 1
    print(json.dumps(state.result(), indent=2, default=str))
    return 0


def audit_summaries(result: Any) -> list[dict[str, Any]]:
    """The audit summaries (pipeline.audit.result_summary) in a flow's result: one, a list, or none (an
    exception the flow ended with)."""
    found = result if isinstance(result, list) else [result]
    return [r for r in found if isinstance(r, dict) and "verdicts" in r]


def summary_text(summary: dict[str, Any]) -> str:
    """An audit summary's verdict block, then where its report is."""
    from audit.verdict import Verdict, verdict_text

    text = verdict_text(f"audit of {summary['model']}", summary["passed"],
                        [Verdict(**v) for v in summary["verdicts"]], summary["failures"], summary["warnings"])
    return f"{text}\n  report: {summary['report']}"


def promote(args: argparse.Namespace) -> int:
    """`make repro`'s last step, without Prefect: the gate's decision on stderr, its record as JSON."""
    from pipeline.promotion import promote_workspace

    decision = promote_workspace(args.params, reports=args.reports)
    print(decision.describe(), file=sys.stderr)
    print(json.dumps(decision.as_dict(), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
