"""Run a list of expectations on a DataFrame and sort the outcome by severity.

Each check's severity is GX's own `severity` field on the expectation (GX >= 1.x:
critical, warning or info), read back from each result. GX's `.success` still counts every
failure, so the outcome is sorted here: a failed `critical` check fails the stage, a failed
`warning` check is reported and logged only. Each run is named (`run_name`, shown in Data
Docs beside its time) and its Data Docs are made to render offline (`data_docs.make_offline`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    run_name: str = ""

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


def expectation(check: Check) -> Any:
    """The GX expectation for `check`: its severity in GX's own field, its name in `meta`."""
    import great_expectations.expectations as gxe

    return getattr(gxe, check.kind)(**check.kwargs, severity=check.severity, meta={"netinv_name": check.name})


def default_run_name(prefix: str, when: datetime | None = None) -> str:
    """`PREFIX-YYYYmmddTHHMMSSZ` (UTC): the run name when the caller gives none."""
    return f"{prefix}-{(when or datetime.now(UTC)):%Y%m%dT%H%M%SZ}"


def file_run_name(prefix: str, path: str | Path, when: datetime | None = None) -> str:
    """`PREFIX-SHA-YYYYmmddTHHMMSSZ`, SHA the first 12 hex digits of the file's SHA-256: names
    the run by the exact data it validated (the same samples give the same SHA)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return default_run_name(f"{prefix}-{digest.hexdigest()[:12]}", when)


def run_checks(df: pd.DataFrame, checks: list[Check], suite_name: str, docs_dir: str | Path | None = None,
               run_name: str | None = None) -> SuiteResult:
    """Validate `df` with GX; optionally build Data Docs (static HTML) into `docs_dir`.

    `run_name` names the validation run in Data Docs (default `SUITE-TIMESTAMP`); GX
    otherwise shows `__none__`.
    """
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from netinv.validation.data_docs import make_offline

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # one bar per metric is noise
    batch_definition = (
        context.data_sources.add_pandas(f"{suite_name}_source")
        .add_dataframe_asset(f"{suite_name}_table")
        .add_batch_definition_whole_dataframe(f"{suite_name}_batch")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name, expectations=[expectation(c) for c in checks]))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}_validation", data=batch_definition, suite=suite)
    )
    run_time = datetime.now(UTC)
    run_id = RunIdentifier(run_name=run_name or default_run_name(suite_name, run_time), run_time=run_time)
    if docs_dir is None:
        outcome = validation.run(batch_parameters={"dataframe": df}, run_id=run_id)
    else:
        site = f"{suite_name}_docs"
        context.add_data_docs_site(site, {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(Path(docs_dir).resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "show_how_to_buttons": False,  # GX tutorial pop-ups and links, not about this data
        })
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"{suite_name}_checkpoint", validation_definitions=[validation],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[site])],
        ))
        run = checkpoint.run(batch_parameters={"dataframe": df}, run_id=run_id)
        outcome = next(iter(run.run_results.values()))
        make_offline(docs_dir)
    results = []
    for r in outcome.results:
        config = r.expectation_config
        results.append(CheckResult(config.meta["netinv_name"], _severity(config.severity), bool(r.success),
                                   _jsonable(_observed(r))))
    return SuiteResult(suite_name, results, run_id.run_name)


def _severity(value: Any) -> Severity:
    """GX's FailureSeverity (a str enum) as ours; `info` (which no check here sets) counts as a warning."""
    value = getattr(value, "value", value)
    return "critical" if value == "critical" else "warning"
