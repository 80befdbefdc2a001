"""Stage `audit`: the audit of a production classifier (the work lives in the `audit` package).

`python -m stages.audit MODEL [--profile NAME]` (MODEL: `models:/NAME@ALIAS`,
`models:/NAME/VERSION`, an `.onnx` file or a netinv `.pt` file; default `audit.model`).
Params: `audit.*` (the profile: inversion budget, thresholds, probes), `invert.*` (the
generator's architecture and losses), `reconstruct.*` (the leakage probe), `seed`. Calls
`audit.engine.prepare` then `audit.engine.run`, as the Prefect flow
`pipeline.audit.audit_production` does step by step: invert the model, validate the samples,
run the profile's probes, compare with the previous audit of the same reference, write
`REPORTS/STAMP-MODEL/report.html` and `audit.json`, log an MLflow run in `audit.experiment`.
Prints the verdict (PASS / FAIL, the three answers, every failure and warning) to stderr and the
report's path to stdout; exits 1 with the reasons when a critical check fails.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from audit.engine import AuditFailed, prepare, run
from audit.verdict import verdict_text
from stages import runner
from stages.config import load_params


def main(argv: Sequence[str] | None = None) -> None:
    p = runner.parser(__doc__)
    p.add_argument("model", nargs="?", help="models:/NAME@ALIAS, models:/NAME/VERSION, or an .onnx / .pt file "
                                            "(default: audit.model)")
    p.add_argument("--profile", help="audit profile in params.yaml (default: audit.profile)")
    p.add_argument("--reports", type=Path, help="reports directory (default: audit.reports)")
    args = p.parse_args(argv)
    params = load_params(args.params)
    with tempfile.TemporaryDirectory(prefix="netinv-audit-") as tmp:
        setup = prepare(args.model or params.audit.model, params, args.profile, Path(tmp))
        result = run(setup, args.reports)
    print(verdict_text(f"audit of {result.reference}", result.passed, result.verdicts, result.failures,
                       result.warnings), file=sys.stderr)
    print(f"report: {result.report_path}")
    if not result.passed:
        raise AuditFailed(f"audit of {result.reference} failed: {'; '.join(result.failures)}")


if __name__ == "__main__":
    runner.run(main, section={
        "ExportConfig": "export", "InversionConfig": "invert", "ReconstructionConfig": "reconstruct", "": "audit"})
