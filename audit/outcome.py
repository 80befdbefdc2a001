"""What an audit concludes and records: its metrics, the comparison with the previous audit of
the same model reference, the verdict, the HTML report and audit.json under
`REPORTS/STAMP-MODEL/`, and the MLflow run in the `audit.experiment` experiment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import os
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit import report
from audit.config import QualityGates
from audit.inversion import Inversion
from audit.model import AuditModel
from audit.probes import REPORT_PROBE_TITLES, ProbeResult
from audit.verdict import Verdict, audit_gates, audit_verdicts
from netinv.atomic import save_figure, write_json, write_text
from netinv.visual import class_overview
from stages.config import Params
from stages.tracking import experiment_id, flatten, git_commit, numeric_metrics, tracking_uri

log = logging.getLogger(__name__)
MODEL_TAG = "netinv.audit.model"
HEADLINE = ("fidelity", "fidelity_onnx", "eval_agreement", "eval_agreement_heldout", "coverage", "coverage_real",
            "density", "precision", "recall", "diversity_cosine", "pixel_spread_ratio", "fid_eval", "kid_eval")


@dataclass
class AuditResult:
    reference: str
    passed: bool
    failures: list[str]
    warnings: list[str]
    metrics: dict[str, float]
    tags: dict[str, str]
    comparison: dict[str, Any]
    out_dir: Path
    report_path: Path
    run_id: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)  # the card: what the model learned, OOD, leakage


# --- against the previous audit -----------------------------------------------------------------

def previous_audit(experiment: str, reference: str) -> Any | None:
    """The latest finished audit run of the same model reference, or None."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    quoted = reference.replace("'", "\\'")
    runs = client.search_runs([found.experiment_id], f"tags.`{MODEL_TAG}` = '{quoted}' and attributes.status = 'FINISHED'",
                              order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


def compare(metrics: dict[str, float], tags: dict[str, str], previous: Any | None,
            max_drop: dict[str, float]) -> dict[str, Any]:
    """What changed since `previous` (an MLflow run), by how much; drops beyond `max_drop` fail."""
    if previous is None:
        return {"previous_run_id": None, "changes": [], "metric_deltas": {}, "failures": []}
    old_metrics, old_tags = previous.data.metrics, previous.data.tags
    changes = [f"{key}: {old_tags.get(key, '?')} -> {value}" for key, value in tags.items()
               if key in ("model_sha256", "model_version", "git_commit", "audit_profile")
               and old_tags.get(key) != value]
    deltas = {k: metrics[k] - old_metrics[k] for k in metrics if k in old_metrics}
    failures = [f"{k} dropped by {-deltas[k]:.3f} since the previous audit (allowed {limit:g})"
                for k, limit in max_drop.items() if k in deltas and -deltas[k] > limit]
    return {"previous_run_id": previous.info.run_id, "previous_verdict": old_tags.get("verdict"),
            "previous_time": dt.datetime.fromtimestamp(previous.info.start_time / 1000, dt.UTC).isoformat(),
            "changes": changes, "metric_deltas": deltas, "failures": failures,
            "previous_metrics": {k: old_metrics[k] for k in deltas}}


# --- verdict and metrics ------------------------------------------------------------------------

def verdict(inversion: Inversion, gates: QualityGates, validation: dict[str, Any], probes: Sequence[ProbeResult],
            comparison: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(failures, warnings): the sample checks', the set-level gates' (held-out judge, coverage against
    real images: what fidelity and confidence cannot show), each probe's and the comparison's."""
    failures = [f"sample check '{name}' failed (observed {validation['checks'][name]['observed']})"
                for name in validation["critical_failures"]]
    warnings = [f"sample check '{name}' failed (observed {validation['checks'][name]['observed']})"
                for name in validation["warnings"]]
    gate_failures, gate_warnings = audit_gates(inversion.quality, gates)
    failures += [f"gate: {f}" for f in gate_failures]
    warnings += [f"gate: {w}" for w in gate_warnings]
    for probe in probes:
        failures += [f"{probe.name}: {f}" for f in probe.failures]
        warnings += [f"{probe.name}: {w}" for w in probe.warnings]
    failures += comparison["failures"]
    return failures, warnings


def audit_metrics(model: AuditModel, inversion: Inversion, validation: dict[str, Any],
                  probes: Sequence[ProbeResult]) -> dict[str, float]:
    metrics = numeric_metrics({k: v for k, v in inversion.quality.items() if k != "per_class"})
    metrics.update(numeric_metrics(model.checks))
    metrics["inversion_seconds"] = inversion.seconds
    metrics["critical_failures"] = float(len(validation["critical_failures"]))
    metrics["validation_warnings"] = float(len(validation["warnings"]))
    for probe in probes:
        metrics.update(numeric_metrics({probe.name: probe.metrics}))
    return metrics


# --- the report's sections ----------------------------------------------------------------------

PROBE_HOW = {  # "How to read this" of the known probes' sections
    "ood": ("Detectors fitted on the audited model's features score real test images against unfamiliar "
            "inputs. AUROC says how well a score ranks unfamiliar inputs above real ones (1 perfect, 0.5 chance); "
            "FPR@95TPR is the share of unfamiliar inputs still accepted when 95% of real ones are (lower is better)."),
    "leakage": ("Reconstructions from the audited model are matched against its training images and against as "
                "many held-out images of the same classes. Only the gap counts: an interval above 0 is leakage."),
}


def probe_sections(probes: Sequence[ProbeResult]) -> list[report.Section]:
    """The known probes in a fixed order ("not run" when the profile skips one), then the others."""
    by_name = {p.name: p for p in probes}
    sections = []
    for name, title in REPORT_PROBE_TITLES.items():
        if name in by_name and by_name[name].section is not None:
            found = by_name[name].section
            sections.append(dataclasses.replace(found, anchor=found.anchor or name, how=found.how or PROBE_HOW.get(name, "")))
        elif name in by_name:
            sections.append(report.Section(title, tables=[report.metrics_table(by_name[name].metrics, title)],
                                           anchor=name, how=PROBE_HOW.get(name, "")))
        else:
            sections.append(report.not_run(title, title, anchor=name, how=PROBE_HOW.get(name, "")))
    for probe in probes:
        if probe.name not in REPORT_PROBE_TITLES:
            sections.append(probe.section or report.Section(probe.name, tables=[
                report.metrics_table(probe.metrics, probe.name)]))
    return sections


def comparison_section(comparison: dict[str, Any]) -> report.Section:
    title = "Against the previous audit"
    how = ("The headline metrics of this audit beside the previous audit of the same model reference; a drop "
           "beyond the profile's max_drop fails the audit.")
    if comparison["previous_run_id"] is None:
        return report.Section(title, status=report.NOT_RUN, note="No previous audit of this model reference.",
                              anchor="previous", how=how)
    rows = [[k, report.fmt(comparison["previous_metrics"][k]), report.fmt(comparison["previous_metrics"][k] + d),
             f"{d:+.3g}"] for k, d in comparison["metric_deltas"].items() if k in HEADLINE]
    return report.Section(
        title, status="failed" if comparison["failures"] else "ok", anchor="previous", how=how,
        note=(f"Previous audit {comparison['previous_run_id']} ({comparison['previous_time']}, verdict "
              f"{comparison.get('previous_verdict')}). Changed: {'; '.join(comparison['changes']) or 'nothing'}."),
        tables=[report.Table("Headline metrics", ["metric", "previous", "now", "change"], rows)])


def audit_sections(model: AuditModel, inversion: Inversion, validation: dict[str, Any],
                   probes: Sequence[ProbeResult], comparison: dict[str, Any], out_dir: Path,
                   failures: list[str], warnings: list[str], class_names: Sequence[str] = (),
                   thresholds: Any = None) -> list[report.Section]:
    """The audit's page below its verdict card; `class_names` name the per-class rows, `thresholds`
    (the profile's `checks`) fill the validation table's threshold column."""
    facts = {"reference": model.reference, "sha256": model.sha256[:16], **model.registered, **model.checks}
    steps = inversion.history[-1]["step"] if inversion.history else 0
    tables = [report.labelled_table(inversion.quality, report.INVERSION_SUMMARY, "Inversion, all classes")]
    if isinstance(inversion.quality.get("per_class"), dict):
        tables.append(report.inversion_class_table(inversion.quality, class_names))
    return [
        report.Section("Model", status=report.MEASURED, tables=[report.metrics_table(facts, "Model under audit")],
                       anchor="model"),
        report.Section("Checks and gates", status="failed" if failures else "warning" if warnings else "ok",
                       note=" ".join(failures + warnings) or "All checks pass.", anchor="checks",
                       how="Every failed check of this audit: a critical one fails the audit, a warning is reported."),
        report.Section(
            "Network inversion", status=report.MEASURED, anchor="inversion", how=report.HOW_INVERSION,
            note=f"{len(inversion.images)} samples after {steps} generator steps ({inversion.seconds:.0f} s)",
            tables=tables,
            figures=report.figure(out_dir / "overview.png", "Generated samples (left) beside real test images of "
                                                            "the same class (right), one row per class")),
        report.suite_section(validation, "Validation of the generated samples", thresholds),
        *probe_sections(probes),
        comparison_section(comparison),
    ]


# --- writing and logging ------------------------------------------------------------------------

def slug(reference: str) -> str:
    """A folder name for the audit of `reference`: its readable tail plus a hash of the whole,
    so that two models audited in the same second never share a folder."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", reference.removeprefix("models:/")).strip("_")[-40:].strip("_")
    return f"{readable or 'model'}-{hashlib.sha1(reference.encode()).hexdigest()[:8]}"


def log_run(experiment: str, reference: str, tags: dict[str, str], profile_values: dict[str, Any],
            metrics: dict[str, float], comparison: dict[str, Any], failures: list[str],
            artifacts: Sequence[Path]) -> str:
    """The audit's MLflow run: the profile as params, metrics and their deltas, the files; its id."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(experiment_id=experiment_id(mlflow.MlflowClient(), experiment))
    with mlflow.start_run(run_name=f"audit {reference}", tags=tags) as run:
        mlflow.log_params({k: str(v) for k, v in flatten("", profile_values).items()})
        mlflow.log_metrics(metrics)
        mlflow.log_metrics({f"delta_{k}": v for k, v in comparison["metric_deltas"].items()})
        if failures:
            mlflow.set_tag("failures", "; ".join(failures)[:5000])
        for path in artifacts:
            mlflow.log_artifact(str(path))
        return run.info.run_id


def finish(model: AuditModel, inversion: Inversion, validation: dict[str, Any], probes: Sequence[ProbeResult],
           class_names: Sequence[str], params: Params, profile_name: str, out_root: Path,
           extra_tags: dict[str, str] | None = None) -> AuditResult:
    """Compare with the previous audit, write the report and audit.json, log the MLflow run."""
    cfg = params.audit
    profile = cfg.get_profile(profile_name)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    out_dir = out_root / f"{stamp}-{slug(model.reference)}"
    metrics = audit_metrics(model, inversion, validation, probes)
    tags = {MODEL_TAG: model.reference, "model_sha256": model.sha256, "audit_profile": profile_name,
            **({"model_version": model.registered["version"]} if "version" in model.registered else {}),
            **({"git_commit": c} if (c := git_commit()) else {}), **(extra_tags or {})}
    comparison = compare(metrics, tags, previous_audit(cfg.experiment, model.reference), profile.max_drop)
    failures, warnings = verdict(inversion, profile.gates, validation, probes, comparison)
    verdicts = audit_verdicts(inversion.quality, validation, {p.name: p.metrics for p in probes}, profile)
    # Written only now, after the previous audit was read from MLflow: a store that fails there
    # leaves no half-written report folder.
    save_figure(out_dir / "overview.png", class_overview(inversion.images, inversion.labels, class_names,
                                                         title=f"audit of {model.reference}"))
    sections = audit_sections(model, inversion, validation, probes, comparison, out_dir, failures, warnings,
                              class_names=class_names, thresholds=profile.checks)
    html = report.render(f"Audit of {model.reference}", sections,
                         meta=[("time", stamp), ("profile", profile_name), ("model sha256", model.sha256[:16])],
                         verdict="PASSED" if not failures else "FAILED: " + "; ".join(failures),
                         verdict_ok=not failures, verdicts=verdicts)
    report_path = out_dir / "report.html"
    write_text(report_path, html)
    summary = {"model": model.reference, "registered": model.registered, "sha256": model.sha256,
               "profile": profile_name, "passed": not failures, "failures": failures, "warnings": warnings,
               "verdicts": [dataclasses.asdict(v) for v in verdicts], "metrics": metrics, "validation": validation, "comparison": comparison,
               "probes": [dataclasses.asdict(dataclasses.replace(p, section=None)) for p in probes],
               "host": socket.gethostname(), "worker_pid": os.getpid()}  # where it ran (audit_many fans out)
    write_json(out_dir / "audit.json", summary)
    tags["verdict"] = "passed" if not failures else "failed"
    run_id = log_run(cfg.experiment, model.reference, tags, profile.model_dump(), metrics, comparison, failures,
                     [report_path, out_dir / "audit.json", out_dir / "overview.png"])
    log.info("audit of %s: %s (report %s, MLflow run %s)", model.reference,
             "passed" if not failures else "FAILED: " + "; ".join(failures), report_path, run_id)
    return AuditResult(model.reference, not failures, failures, warnings, metrics, tags, comparison, out_dir,
                       report_path, run_id, summary, verdicts)
