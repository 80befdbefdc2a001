"""The promotion gate: `@candidate` becomes `@champion` only when it has earned it.

The export stage registers every new ONNX classifier as `NAME@candidate`. After a
training flow the gate records the candidate's metrics on its model version (tags
`netinv.metric.KEY`), then promotes it when (1) its checks passed (sample validation,
the candidate's audit) and (2) on every metric of `promotion.metrics` it is at least as
good as the champion (`max`: higher is better, `min`: lower is better, within
`promotion.tolerance`). The champion's numbers are read from its own version tags; a
metric the champion lacks cannot be compared and does not block. No champion yet: the
candidate is promoted when its checks pass.

Two callers run the gate: the training flow (`python -m pipeline train`) after its stages,
and `python -m pipeline promote` (the last step of `make repro`) on what `dvc repro` built,
so that `make repro` then `make audit` finds a champion.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline import dvc
from pipeline import tracking as tr
from stages.config import Params, PromotionParams, load_params

METRIC_TAG = "netinv.metric."
ONNX_MD5_TAG = "netinv.onnx_md5"  # set by the export stage on the version it registers
CANDIDATE, CHAMPION = "candidate", "champion"


@dataclass
class Decision:
    promote: bool
    candidate_version: str | None
    champion_version: str | None
    reasons: list[str] = field(default_factory=list)  # why not, or why yes
    comparison: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def describe(self) -> str:
        verb = "promoted" if self.promote else "not promoted"
        return f"candidate v{self.candidate_version} {verb}: " + "; ".join(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["promoted"] = out.pop("promote")
        return out


def compare_metrics(candidate: Mapping[str, float], champion: Mapping[str, float], policy: PromotionParams
                    ) -> tuple[list[str], dict[str, dict[str, float | None]]]:
    """Failures (one per metric where the candidate is worse) and the table of both values."""
    failures, table = [], {}
    for name, direction in policy.metrics.items():
        new, old = candidate.get(name), champion.get(name)
        table[name] = {"candidate": new, "champion": old}
        if new is None:
            failures.append(f"the candidate has no value for {name}")
        elif old is None:
            continue
        elif direction == "max" and new < old - policy.tolerance:
            failures.append(f"{name} {new:.4g} < champion's {old:.4g}")
        elif direction == "min" and new > old + policy.tolerance:
            failures.append(f"{name} {new:.4g} > champion's {old:.4g}")
    return failures, table


def version_metrics(version: Any) -> dict[str, float]:
    out = {}
    for key, value in (version.tags or {}).items():
        if key.startswith(METRIC_TAG):
            try:
                out[key.removeprefix(METRIC_TAG)] = float(value)
            except ValueError:
                continue
    return out


def _by_alias(client: Any, name: str, alias: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def has_new_candidate(client: Any, name: str) -> bool:
    """A `@candidate` exists and is not already the `@champion` (else there is nothing to decide)."""
    candidate = _by_alias(client, name, CANDIDATE)
    champion = _by_alias(client, name, CHAMPION)
    return candidate is not None and (champion is None or champion.version != candidate.version)


def record_metrics(client: Any, name: str, version: str, metrics: Mapping[str, float]) -> None:
    for key, value in metrics.items():
        client.set_model_version_tag(name, version, f"{METRIC_TAG}{key}", repr(float(value)))


def promote_candidate(client: Any, name: str, metrics: Mapping[str, float], checks: Mapping[str, bool],
                      policy: PromotionParams) -> Decision:
    """Record `metrics` on the candidate, decide, and move `@champion` when the gate opens.

    `checks` maps a check (e.g. "validation", "audit") to whether it passed.
    """
    candidate = _by_alias(client, name, CANDIDATE)
    if candidate is None:
        return Decision(False, None, None, [f"no {name}@{CANDIDATE} in the registry: nothing to promote"])
    champion = _by_alias(client, name, CHAMPION)
    decision = Decision(False, str(candidate.version), str(champion.version) if champion else None)
    record_metrics(client, name, candidate.version, metrics)
    for check, passed in checks.items():
        client.set_model_version_tag(name, candidate.version, f"netinv.check.{check}", str(bool(passed)).lower())
    if champion is not None and champion.version == candidate.version:
        decision.reasons.append("the candidate already is the champion")
        return decision
    failed_checks = [check for check, passed in checks.items() if not passed]
    worse, decision.comparison = compare_metrics(metrics, version_metrics(champion) if champion else {}, policy)
    decision.reasons += [f"check {check} failed" for check in failed_checks] + worse
    if failed_checks or worse:
        client.set_model_version_tag(name, candidate.version, "netinv.promotion", "rejected: " + "; ".join(
            decision.reasons)[:4000])
        return decision
    client.set_registered_model_alias(name, CHAMPION, candidate.version)
    client.set_model_version_tag(name, candidate.version, "netinv.promotion", "champion")
    decision.promote = True
    decision.reasons.append("first champion" if champion is None else
                            f"at least as good as v{champion.version} on {', '.join(policy.metrics)}")
    return decision


def candidate_metrics(files: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """The classifier's own metrics unprefixed (test_accuracy, ...), the others as STEM.key."""
    summary = tr.summary_metrics(files)
    return {k.removeprefix("classifier."): v for k, v in summary.items()}


def validation_checks(files: Mapping[str, Mapping[str, Any]], policy: PromotionParams) -> dict[str, bool]:
    """The sample validation's verdict (metrics/validation.json), when the policy requires it."""
    if not policy.require_validation:
        return {}
    return {"validation": bool(files.get("validation", {}).get("success", False))}


def promote_workspace(params_file: str = "params.yaml", lock_file: str | Path = "dvc.lock",
                      reports: str | None = None) -> Decision:
    """The gate on the workspace `dvc repro` built (what `make repro` runs after it).

    The metrics are the JSON outputs dvc.lock records, the checks those of the training flow:
    the sample validation, then (`promotion.audit_profile`) an audit of the candidate, run
    here without Prefect. One more check guards against promoting the wrong model: the
    candidate must be the workspace's export (the md5 the export stage tagged it with is the
    one dvc.lock records for the .onnx), not one a `dvc exp run` of other params registered.
    """
    params = load_params(params_file)
    policy, name = params.promotion, params.mlflow.registered_model
    path = Path(lock_file)
    recorded = ((yaml.safe_load(path.read_text()) or {}).get("stages") or {}) if path.is_file() else {}
    outs = dvc.stage_outputs(recorded, path)
    files = tr.read_metrics_files([out for out in outs if out.endswith(".json")])
    client = tr.client()
    checks = validation_checks(files, policy)
    candidate = _by_alias(client, name, CANDIDATE)
    exported = {o.get("md5") for stage in recorded.values() for o in stage.get("outs") or []
                if str(o.get("path", "")).endswith(".onnx")}
    tagged = (candidate.tags or {}).get(ONNX_MD5_TAG) if candidate is not None else None
    if tagged and exported:
        checks["workspace"] = tagged in exported
    if policy.audit_profile is not None and all(checks.values()) and has_new_candidate(client, name):
        checks["audit"] = audit_passes(params, f"models:/{name}@{CANDIDATE}", policy.audit_profile, reports)
    return promote_candidate(client, name, candidate_metrics(files), checks, policy)


def audit_passes(params: Params, reference: str, profile: str, reports: str | None) -> bool:
    """The audit of `reference` with `profile` (report and MLflow run as any audit), passed or not."""
    from audit.engine import prepare, run

    with tempfile.TemporaryDirectory(prefix="netinv-audit-") as tmp:
        result = run(prepare(reference, params, profile, Path(tmp)), Path(reports) if reports else None)
    return bool(result.passed)
