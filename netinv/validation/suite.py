"""Run a list of expectations on a DataFrame and sort the outcome by severity.

GX's own `.success` ignores severity, so each check carries ours: a failed `critical`
check fails the stage, a failed `warning` check is reported and logged only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

Severity = Literal["critical", "warning"]


@dataclass(frozen=True)
class Check:
    """One expectation: `kind` is a GX expectation class name, `kwargs` its arguments."""

    name: str
    kind: str
    kwargs: dict[str, Any]
    severity: Severity = "critical"


@dataclass(frozen=True)
class CheckResult:
    name: str
    severity: Severity
    success: bool
    observed: Any


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return not self.failed("critical")

    def failed(self, severity: Severity) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == severity]

    def describe_failures(self, severity: Severity = "critical") -> str:
        return "; ".join(f"{r.name} (observed {r.observed})" for r in self.failed(severity))

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "success": self.success,
            "critical_failures": [r.name for r in self.failed("critical")],
            "warnings": [r.name for r in self.failed("warning")],
            "checks": {r.name: {"severity": r.severity, "success": r.success, "observed": _jsonable(r.observed)}
                       for r in self.results},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value][:20]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in list(value.items())[:20]}
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _observed(result: Any) -> Any:
    payload = result.result or {}
    if "observed_value" in payload:
        return payload["observed_value"]
    if "unexpected_percent" in payload:
        return {"unexpected_percent": payload["unexpected_percent"],
                "partial_unexpected_list": payload.get("partial_unexpected_list", [])[:5]}
    return payload


def run_checks(df: pd.DataFrame, checks: list[Check], suite_name: str, docs_dir: str | Path | None = None) -> SuiteResult:
    """Validate `df` with GX; optionally build Data Docs (static HTML) into `docs_dir`."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # one bar per metric is noise
    batch_definition = (
        context.data_sources.add_pandas(f"{suite_name}_source")
        .add_dataframe_asset(f"{suite_name}_table")
        .add_batch_definition_whole_dataframe(f"{suite_name}_batch")
    )
    expectations = []
    for check in checks:
        cls = getattr(gxe, check.kind)
        expectations.append(cls(**check.kwargs, meta={"netinv_name": check.name, "severity": check.severity}))
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=expectations))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch_definition, suite=suite)
    )
    if docs_dir is None:
        outcome = validation.run(batch_parameters={"dataframe": df})
    else:
        site = f"{suite_name}_docs"
        context.add_data_docs_site(site, {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"{suite_name}_checkpoint", validation_definitions=[validation],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[site])],
        ))
        run = checkpoint.run(batch_parameters={"dataframe": df})
        outcome = next(iter(run.run_results.values()))
    by_name = {check.name: check for check in checks}
    results = []
    for r in outcome.results:
        name = r.expectation_config.meta["netinv_name"]
        results.append(CheckResult(name, by_name[name].severity, bool(r.success), _jsonable(_observed(r))))
    return SuiteResult(suite_name, results)
