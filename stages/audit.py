"""Audit of a production classifier: invert it, check the samples, probe it, compare, report.

`python -m stages.audit MODEL [--profile NAME]` (MODEL: `models:/NAME@ALIAS`,
`models:/NAME/VERSION`, an `.onnx` file or a netinv `.pt` file). Params: `audit.*` (the
profile: inversion budget, thresholds), `invert.*` (the generator's architecture and
losses), `seed`. An ONNX model is converted with onnx2torch, checked to be differentiable
and to match onnxruntime, then inverted. The generated samples are measured
(netinv.metrics.inversion) and validated (the Great Expectations suite of
validate_samples, with the profile's thresholds); the probes in `PROBES` named by the
profile run next (the extension point for the OOD and leakage probes). The result is
compared with the previous audit of the same model reference, logged as an MLflow run in
the `audit.experiment` experiment and written as `REPORTS/STAMP-MODEL/report.html` and
`audit.json`. The Prefect flow `pipeline.audit.audit_production` runs the same steps as
tasks; this module holds the work, the flow only composes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from netinv.atomic import save_figure, write_json, write_text
from netinv.device import resolve_device, seed_everything
from netinv.errors import ModelFileError, NetinvError
from netinv.export import check_input_contract, onnx_logits, onnx_session, parity
from netinv.inversion.trainer import train_generator
from netinv.metrics.inversion import inversion_quality
from netinv.metrics.quality import embed_and_predict
from netinv.models import load_model
from netinv.models.onnx_import import check_differentiable, load_onnx_classifier, torch_logits
from netinv.splits import Prepared, load_prepared
from netinv.validation.samples import (
    nearest_same_class_distance,
    pixel_mean_partition,
    sample_checks,
    sample_table,
)
from netinv.validation.suite import run_checks
from netinv.visual import class_overview
from stages import report, runner
from stages.audit_probes import REPORT_PROBE_TITLES, ProbeContext, ProbeResult, run_probes
from stages.config import AuditProfile, Params, load_params
from stages.inversion_setup import build_generator, inversion_config, sample_balanced
from stages.tracking import flatten, git_commit, numeric_metrics, tracking_uri
from stages.validate_samples import thresholds

log = logging.getLogger("stages.audit")
MODEL_TAG = "netinv.audit.model"


class AuditFailed(NetinvError):
    """The audited model failed critical checks; the message lists them."""


# --- the model under audit ----------------------------------------------------------------------

@dataclass
class AuditModel:
    reference: str  # as asked: models:/NAME@ALIAS or a path
    module: nn.Module  # differentiable, eval mode, float32 [0, 1] N×C×H×W -> logits
    sha256: str
    onnx_path: Path | None = None
    registered: dict[str, str] = field(default_factory=dict)  # name, version, alias, run_id
    checks: dict[str, Any] = field(default_factory=dict)  # conversion: parity, gradient


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """models:/NAME@ALIAS or models:/NAME/VERSION -> (name, alias, version)."""
    match = re.fullmatch(r"models:/([^/@]+)(?:@([\w-]+)|/(\d+))", uri)
    if match is None:
        raise ModelFileError(f"cannot read model URI {uri!r}: use models:/NAME@ALIAS or models:/NAME/VERSION")
    return match.group(1), match.group(2), match.group(3)


def fetch_registered(uri: str, dst: Path) -> tuple[Path, dict[str, str]]:
    """Download the registered model at `uri` into `dst`; return its model file and registry facts."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    client = mlflow.MlflowClient()
    name, alias, version = parse_models_uri(uri)
    try:
        mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except mlflow.exceptions.MlflowException as exc:
        raise ModelFileError(
            f"{uri} is not in the model registry at {tracking_uri()} ({str(exc).splitlines()[0]}); run the "
            "training flow (python -m pipeline train) or pass an .onnx file") from exc
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{mv.version}", dst_path=str(dst)))
    files = sorted(local.rglob("*.onnx")) or sorted(local.rglob("*.pt"))
    if not files:
        raise ModelFileError(f"{uri} (version {mv.version}) holds no .onnx or .pt file; audit an ONNX-flavour model")
    facts = {"name": name, "version": str(mv.version), "run_id": mv.run_id or ""}
    if alias:
        facts["alias"] = alias
    return files[0], facts


def resolve_model(reference: str, data: Prepared, profile: AuditProfile, work_dir: Path) -> AuditModel:
    """Load the model under audit as a differentiable module, checked against onnxruntime."""
    registered: dict[str, str] = {}
    if reference.startswith("models:/"):
        path, registered = fetch_registered(reference, work_dir)
    else:
        path = Path(reference)
        if not path.is_file():
            raise ModelFileError(f"model file {path} does not exist; pass an .onnx / .pt file or a models:/ URI")
    if path.suffix == ".pt":
        module = load_model(path)
        checks = {"gradient_mean_abs": check_differentiable(module, data.image_shape)}
        return AuditModel(reference, module, sha256(path), None, registered, checks)
    session = onnx_session(path)
    check_input_contract(session, data.image_shape, path)
    module = load_onnx_classifier(path)
    gradient = check_differentiable(module, data.image_shape)
    images = data.test.images[:1000]
    result = parity(onnx_logits(session, images.astype(np.float32) / 255.0), torch_logits(module, images))
    checks = {"gradient_mean_abs": gradient, "conversion_max_abs_diff": result.max_abs_diff,
              "conversion_argmax_agreement": result.argmax_agreement, "conversion_compared": len(images)}
    if result.max_abs_diff > profile.max_abs_diff or result.argmax_agreement < profile.min_argmax_agreement:
        raise ModelFileError(
            f"{path}: the onnx2torch conversion disagrees with onnxruntime (max |logit diff| "
            f"{result.max_abs_diff:.3g}, allowed {profile.max_abs_diff:g}; argmax agreement "
            f"{result.argmax_agreement:.4f}, required {profile.min_argmax_agreement:g}); the inversion would "
            "invert another model")
    return AuditModel(reference, module, sha256(path), path, registered, checks)


# --- the work -----------------------------------------------------------------------------------

@dataclass
class Inversion:
    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray  # int64 (N,)
    history: list[dict[str, float]]
    seconds: float
    quality: dict[str, Any]


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def real_reference(data: Prepared, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `per_class` test images of every class (the real side of diversity / coverage)."""
    rows = np.concatenate([np.flatnonzero(data.test.labels == c)[:per_class] for c in np.unique(data.test.labels)])
    return data.test.images[rows], data.test.labels[rows]


def invert(model: AuditModel, evaluator: nn.Module, data: Prepared, params: Params, profile: AuditProfile,
           device: torch.device) -> Inversion:
    cfg = params.invert.model_copy(update={"steps": profile.steps, "batch_size": profile.batch_size})
    weights = cfg.weights
    if weights.bn and not has_batch_norm(model.module):  # ONNX export folds batch norm into the convolutions
        weights = weights.model_copy(update={"bn": 0.0})
        cfg = cfg.model_copy(update={"weights": weights})
    seed_everything(params.seed)
    generator = build_generator(cfg, len(data.class_names), data.image_shape)
    started = time.perf_counter()
    history = train_generator(generator, model.module, inversion_config(cfg, params.seed), device, progress=False)
    seconds = time.perf_counter() - started
    images, labels = sample_balanced(generator, cfg, profile.samples_per_class, params.seed + 1, device)
    real_images, real_labels = real_reference(data, profile.real_per_class)
    session = onnx_session(model.onnx_path) if model.onnx_path is not None else None
    quality = inversion_quality(images, labels, model.module, evaluator, real_images, real_labels,
                                len(data.class_names), device, onnx_session=session, seed=params.seed,
                                control_images=data.train.images, control_labels=data.train.labels)
    return Inversion(images, labels, history, seconds, quality)


def validate(inversion: Inversion, model: AuditModel, evaluator: nn.Module, data: Prepared,
             profile: AuditProfile) -> dict[str, Any]:
    """The generated-samples suite (validate_samples) with the profile's thresholds."""
    device = torch.device("cpu")
    _, classifier_logits = embed_and_predict(model.module, inversion.images, device=device)
    _, eval_logits = embed_and_predict(evaluator, inversion.images, device=device)
    table = sample_table(inversion.images, inversion.labels, classifier_logits, eval_logits)
    real_images, real_labels = real_reference(data, int(np.bincount(inversion.labels).max()))
    real_distance = float(np.nanmean(nearest_same_class_distance(real_images, real_labels)))
    checks = sample_checks(len(data.class_names), thresholds(profile.checks), pixel_mean_partition(data.train.images),
                           real_distance)
    return run_checks(table, checks, "audit_samples").as_dict()


# --- comparison, report, tracking ---------------------------------------------------------------

HEADLINE = ("fidelity", "fidelity_onnx", "eval_agreement", "coverage", "density", "precision", "recall",
            "diversity_cosine", "pixel_spread_ratio", "fid_eval", "kid_eval")


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


def verdict(model: AuditModel, validation: dict[str, Any], probes: Sequence[ProbeResult],
            comparison: dict[str, Any]) -> tuple[list[str], list[str]]:
    failures = [f"sample check '{name}' failed (observed {validation['checks'][name]['observed']})"
                for name in validation["critical_failures"]]
    warnings = [f"sample check '{name}' failed (observed {validation['checks'][name]['observed']})"
                for name in validation["warnings"]]
    for probe in probes:
        failures += [f"{probe.name}: {f}" for f in probe.failures]
        warnings += [f"{probe.name}: {w}" for w in probe.warnings]
    failures += comparison["failures"]
    return failures, warnings


def audit_sections(model: AuditModel, inversion: Inversion, validation: dict[str, Any],
                   probes: Sequence[ProbeResult], comparison: dict[str, Any], out_dir: Path,
                   failures: list[str], warnings: list[str]) -> list[report.Section]:
    facts = {"reference": model.reference, "sha256": model.sha256[:16], **model.registered, **model.checks}
    sections = [report.Section("Model", tables=[report.metrics_table(facts, "Model under audit")])]
    sections.append(report.Section(
        "Verdict", status="failed" if failures else "warning" if warnings else "ok",
        note=" ".join(failures + warnings) or "All checks pass.",
    ))
    sections.append(report.Section(
        "Network inversion", note=f"{len(inversion.images)} samples after {inversion.history[-1]['step'] if inversion.history else 0} "
                                  f"generator steps ({inversion.seconds:.0f} s)",
        tables=[report.metrics_table({k: v for k, v in inversion.quality.items() if k != "per_class"},
                                     "Inversion quality"),
                report.metrics_table(inversion.quality.get("per_class", {}), "Per class")],
        figures=report.figure(out_dir / "overview.png", "Generated samples, one row per class")))
    sections.append(report.suite_section(validation, "Validation of the generated samples"))
    by_name = {p.name: p for p in probes}
    for name, title in REPORT_PROBE_TITLES.items():
        if name in by_name and by_name[name].section is not None:
            sections.append(by_name[name].section)
        elif name in by_name:
            sections.append(report.Section(title, tables=[report.metrics_table(by_name[name].metrics, title)]))
        else:
            sections.append(report.not_run(title, title))
    for probe in probes:
        if probe.name not in REPORT_PROBE_TITLES:
            sections.append(probe.section or report.Section(probe.name, tables=[
                report.metrics_table(probe.metrics, probe.name)]))
    if comparison["previous_run_id"] is None:
        sections.append(report.Section("Against the previous audit", status=report.NOT_RUN,
                                       note="No previous audit of this model reference."))
    else:
        rows = [[k, report.fmt(comparison["previous_metrics"][k]), report.fmt(comparison["previous_metrics"][k] + d),
                 f"{d:+.4g}"] for k, d in comparison["metric_deltas"].items() if k in HEADLINE]
        sections.append(report.Section(
            "Against the previous audit", status="failed" if comparison["failures"] else "ok",
            note=(f"Previous audit {comparison['previous_run_id']} ({comparison['previous_time']}, verdict "
                  f"{comparison.get('previous_verdict')}). Changed: {'; '.join(comparison['changes']) or 'nothing'}."),
            tables=[report.Table("Headline metrics", ["metric", "previous", "now", "change"], rows)]))
    return sections


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


def slug(reference: str) -> str:
    """A folder name for the audit of `reference`: its readable tail plus a hash of the whole,
    so that two models audited in the same second never share a folder."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", reference.removeprefix("models:/")).strip("_")[-40:].strip("_")
    return f"{readable or 'model'}-{hashlib.sha1(reference.encode()).hexdigest()[:8]}"


def finish(model: AuditModel, inversion: Inversion, validation: dict[str, Any], probes: Sequence[ProbeResult],
           class_names: Sequence[str], params: Params, profile_name: str, out_root: Path,
           extra_tags: dict[str, str] | None = None) -> AuditResult:
    """Compare with the previous audit, write the report and audit.json, log the MLflow run."""
    import mlflow

    cfg = params.audit
    profile = cfg.get_profile(profile_name)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    out_dir = out_root / f"{stamp}-{slug(model.reference)}"
    save_figure(out_dir / "overview.png", class_overview(inversion.images, inversion.labels, class_names,
                                                         title=f"audit of {model.reference}"))
    metrics = audit_metrics(model, inversion, validation, probes)
    tags = {MODEL_TAG: model.reference, "model_sha256": model.sha256, "audit_profile": profile_name,
            **({"model_version": model.registered["version"]} if "version" in model.registered else {}),
            **({"git_commit": c} if (c := git_commit()) else {}), **(extra_tags or {})}
    comparison = compare(metrics, tags, previous_audit(cfg.experiment, model.reference), profile.max_drop)
    failures, warnings = verdict(model, validation, probes, comparison)
    sections = audit_sections(model, inversion, validation, probes, comparison, out_dir, failures, warnings)
    html = report.render(f"Audit of {model.reference}", sections,
                         meta=[("time", stamp), ("profile", profile_name), ("model sha256", model.sha256[:16])],
                         verdict="PASSED" if not failures else "FAILED: " + "; ".join(failures),
                         verdict_ok=not failures)
    report_path = out_dir / "report.html"
    write_text(report_path, html)
    summary = {"model": model.reference, "registered": model.registered, "sha256": model.sha256,
               "profile": profile_name, "passed": not failures, "failures": failures, "warnings": warnings,
               "metrics": metrics, "validation": validation, "comparison": comparison,
               "probes": [dataclasses.asdict(dataclasses.replace(p, section=None)) for p in probes],
               "host": socket.gethostname(), "worker_pid": os.getpid()}  # where it ran (audit_many fans out)
    write_json(out_dir / "audit.json", summary)
    tags["verdict"] = "passed" if not failures else "failed"
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(cfg.experiment)
    with mlflow.start_run(run_name=f"audit {model.reference}", tags=tags) as run:
        mlflow.log_params({k: str(v) for k, v in flatten("", profile.model_dump()).items()})
        mlflow.log_metrics(metrics)
        mlflow.log_metrics({f"delta_{k}": v for k, v in comparison["metric_deltas"].items()})
        if failures:
            mlflow.set_tag("failures", "; ".join(failures)[:5000])
        mlflow.log_artifact(str(report_path))
        mlflow.log_artifact(str(out_dir / "audit.json"))
        mlflow.log_artifact(str(out_dir / "overview.png"))
        run_id = run.info.run_id
    log.info("audit of %s: %s (report %s, MLflow run %s)", model.reference,
             "passed" if not failures else "FAILED: " + "; ".join(failures), report_path, run_id)
    return AuditResult(model.reference, not failures, failures, warnings, metrics, tags, comparison, out_dir,
                       report_path, run_id, summary)


def run_audit(reference: str, params: Params, profile_name: str | None = None, out_root: Path | None = None,
              extra_tags: dict[str, str] | None = None) -> AuditResult:
    """The whole audit in one call (what the Prefect flow runs step by step)."""
    cfg = params.audit
    profile_name = profile_name or cfg.profile
    profile = cfg.get_profile(profile_name)
    data = load_prepared(cfg.data)
    evaluator = load_model(cfg.evaluator)
    device = resolve_device(params.invert.device)
    with tempfile.TemporaryDirectory(prefix="netinv-audit-") as tmp:
        model = resolve_model(reference, data, profile, Path(tmp))
        inversion = invert(model, evaluator, data, params, profile, device)
        validation = validate(inversion, model, evaluator, data, profile)
        probes = run_probes(ProbeContext(model, data, inversion, evaluator, params, profile, device, Path(tmp)))
        return finish(model, inversion, validation, probes, data.class_names, params, profile_name,
                      Path(out_root or cfg.reports), extra_tags)


def main(argv: Sequence[str] | None = None) -> None:
    p = runner.parser(__doc__)
    p.add_argument("model", nargs="?", help="models:/NAME@ALIAS, models:/NAME/VERSION, or an .onnx / .pt file "
                                            "(default: audit.model)")
    p.add_argument("--profile", help="audit profile in params.yaml (default: audit.profile)")
    p.add_argument("--reports", type=Path, help="reports directory (default: audit.reports)")
    args = p.parse_args(argv)
    params = load_params(args.params)
    result = run_audit(args.model or params.audit.model, params, args.profile, args.reports)
    print(f"report: {result.report_path}")
    if not result.passed:
        raise AuditFailed(f"audit of {result.reference} failed: {'; '.join(result.failures)}")


if __name__ == "__main__":
    runner.run(main)
