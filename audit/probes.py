"""The audit's probes beyond inversion: can the model reject OOD inputs, does it leak its data.

A probe is a function `ProbeContext -> ProbeResult`, registered by name (`register_probe`);
an audit profile lists the probes it runs (`audit.profiles.NAME.probes`). Each probe calls
the core (netinv.ood, netinv.reconstruction) on the audited model, returns metrics, failures
(critical: they fail the audit) and warnings, and the section the report shows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from audit import report
from audit.config import AuditProfile
from audit.inversion import Inversion
from audit.model import AuditModel
from audit.verdict import Reading, audit_leakage_readings, audit_ood_readings, gate_messages
from netinv.config.reconstruction import ReconstructionConfig, RecoveryConfig
from netinv.errors import NetinvError
from netinv.inversion.generator import ConditionedGenerator
from netinv.ood.metrics import ood_metrics
from netinv.ood.posthoc import features_and_logits, fit_posthoc
from netinv.ood.sets import builtin_ood_sets
from netinv.reconstruction.attacks import make_attack
from netinv.reconstruction.matching import leakage
from netinv.reconstruction.positive import audited_model
from netinv.reconstruction.reconstruct import reconstruct
from netinv.reconstruction.subsets import subset_and_control
from netinv.splits import Prepared, balanced_limit
from stages.config import Params, generator_config


@dataclass
class ProbeContext:
    """What a probe may use: the model, the data, the audit's samples and the judge."""

    model: AuditModel
    data: Prepared
    inversion: Inversion
    evaluator: nn.Module
    params: Params
    profile: AuditProfile
    profile_name: str
    device: torch.device
    work_dir: Path


@dataclass
class ProbeResult:
    name: str
    metrics: dict[str, float]
    failures: list[str] = field(default_factory=list)  # critical: fail the audit
    warnings: list[str] = field(default_factory=list)
    section: report.Section | None = None  # what the report shows

    @property
    def status(self) -> str:
        """The report's status for this probe's section."""
        return "failed" if self.failures else "warning" if self.warnings else "ok"


Probe = Callable[[ProbeContext], ProbeResult]
PROBES: dict[str, Probe] = {}
REPORT_PROBE_TITLES = {"ood": "Out-of-distribution checks", "leakage": "Reconstruction leakage probe"}


def register_probe(name: str) -> Callable[[Probe], Probe]:
    def decorator(fn: Probe) -> Probe:
        PROBES[name] = fn
        return fn

    return decorator


def run_probes(context: ProbeContext) -> list[ProbeResult]:
    unknown = [name for name in context.profile.probes if name not in PROBES]
    if unknown:
        raise NetinvError(f"audit profile names unknown probe(s) {unknown}; registered: {sorted(PROBES) or 'none'}")
    return [PROBES[name](context) for name in context.profile.probes]


def judged(result: ProbeResult, readings: Sequence[Reading]) -> None:
    """Add the missed readings' messages to the result's failures (critical) or warnings: the same
    readings as the verdict card's (audit.verdict), so that the card and the gate agree."""
    failures, warnings = gate_messages(readings)
    result.failures += failures
    result.warnings += warnings


@register_probe("ood")
def ood_probe(ctx: ProbeContext) -> ProbeResult:
    """Post-hoc OOD detectors (pytorch-ood) fitted on the audited model's features of training
    images, scored on real test images against the configured OOD sets."""
    cfg = ctx.profile.ood
    module = ctx.model.module
    classes = len(ctx.data.class_names)
    fit = balanced_limit(ctx.data.train, cfg.fit_per_class * classes, ctx.params.seed)
    train_x, train_y = fit.images, fit.labels
    feature_dim = features_and_logits(module, train_x[:2], ctx.device)[0].shape[1]
    detectors = fit_posthoc(module, train_x, train_y, cfg.methods, ctx.device, knn_k=min(cfg.knn_k, len(train_y)),
                            vim_dim=min(cfg.vim_dim, feature_dim - 1))
    id_x = balanced_limit(ctx.data.test, cfg.id_per_class * classes, ctx.params.seed).images
    id_scores = detectors.score(id_x)
    sets = builtin_ood_sets(cfg.sets, ctx.data.image_shape, cfg.set_size, ctx.params.seed)
    table: dict[str, dict[str, dict[str, float]]] = {}
    for set_name, images in sets.items():
        scores = detectors.score(images)
        table[set_name] = {m: ood_metrics(id_scores[m], scores[m]) for m in detectors.methods}
    result = ProbeResult("ood", metrics={})
    for set_name, by_method in table.items():
        result.metrics[f"{set_name}_best_auroc"] = max(values["auroc"] for values in by_method.values())
        for method, values in by_method.items():
            result.metrics[f"{set_name}_{method}_auroc"] = values["auroc"]
            result.metrics[f"{set_name}_{method}_fpr95"] = values["fpr95"]
    judged(result, audit_ood_readings(result.metrics, ctx.profile))
    rows = [[set_name, method, *(report.fmt(values[k]) for k in ("auroc", "aupr_in", "aupr_out", "fpr95"))]
            for set_name, by_method in table.items() for method, values in by_method.items()]
    result.section = report.Section(
        REPORT_PROBE_TITLES["ood"], status=result.status,
        note=(f"Detectors fitted on {len(train_y)} training images; {len(id_x)} real test images against "
              f"{cfg.set_size} images per OOD set. FPR@95TPR: the fraction of OOD inputs accepted when 95% of "
              "real inputs are accepted."),
        tables=[report.Table("AUROC etc. by OOD set and method", ["OOD set", "method", "AUROC", "AUPR-in",
                                                                   "AUPR-out", "FPR@95TPR"], rows)])
    return result


@register_probe("leakage")
def leakage_probe(ctx: ProbeContext) -> ProbeResult:
    """Reconstructions of the audited model, matched against its training split and, as the
    control, as many held-out validation images of the same classes: only the gap is leakage.

    Assumes the model was trained on the prepared training split (`audit.data`), as the
    pipeline's own models are; for a model trained elsewhere the probe says nothing.
    """
    cfg = ctx.profile.leakage
    data = ctx.data
    classes = len(data.class_names)
    size = min(cfg.reference_size, int(np.bincount(data.val.labels, minlength=classes).min()) * classes)
    train_idx, control_idx = subset_and_control(data.train.labels, size,
                                                ctx.params.seed, classes,
                                                control_labels=data.val.labels)
    recon_cfg = ctx.params.audit_reconstruct(ctx.profile_name)
    generator = ConditionedGenerator(generator_config(recon_cfg, classes, data.image_shape))
    recons, recon_labels, _ = reconstruct(generator, ctx.model.module,
                                          recon_cfg.build(ReconstructionConfig, seed=ctx.params.seed), ctx.device)
    found = leakage(recons, recon_labels, data.train.images[train_idx], data.train.labels[train_idx],
                    data.val.images[control_idx], data.val.labels[control_idx],
                    threshold=recon_cfg.ssim_threshold, bootstrap=recon_cfg.bootstrap, seed=ctx.params.seed)
    result = ProbeResult("leakage", metrics={k: float(v) for k, v in found.items() if isinstance(v, int | float)})
    kkt_verdict = _kkt_on_audited(ctx, recon_cfg, result)
    judged(result, audit_leakage_readings(result.metrics, ctx.profile))
    rows = [[k, report.fmt(found[k])] for k in ("ssim_train_mean", "ssim_control_mean", "leakage_gap", "gap_ci_low",
                                                  "gap_ci_high", "gap_p_value", "matched_frac_train",
                                                  "matched_frac_control") if k in found]
    result.section = report.Section(
        REPORT_PROBE_TITLES["leakage"], status=result.status,
        note=(f"{len(recons)} reconstructions against {len(train_idx)} training images and {len(control_idx)} "
              f"held-out validation images of the same classes. A gap whose interval lies above 0 is leakage; "
              f"otherwise no leakage was measurable at this budget ({recon_cfg.recon_steps} steps). {kkt_verdict}"),
        tables=[report.Table("Leakage", ["metric", "value"], rows)])
    return result


def _kkt_on_audited(ctx: ProbeContext, recon_cfg, result: ProbeResult) -> str:
    """The reconstruct section's attack (`method`, KKT by default) on the audited model against held-out
    validation images (netinv.reconstruction.positive.audited_model): metrics under `attack_*`; its verdict."""
    if not recon_cfg.audited_model.enabled:
        return ""
    recovery = dataclasses.replace(recon_cfg.build(RecoveryConfig), control_split="val")
    per_class = int(np.bincount(ctx.data.val.labels).min())
    cfg = dataclasses.replace(recon_cfg.audited_model, pool_per_class=min(recon_cfg.audited_model.pool_per_class,
                                                                          per_class))
    attack = make_attack(recovery.method, cfg.attack, ctx.device,
                         generator_config(recon_cfg, len(ctx.data.class_names), ctx.data.image_shape),
                         recon_cfg.build(ReconstructionConfig, seed=ctx.params.seed))
    found = audited_model(ctx.model.module, ctx.data, cfg, recovery, attack, recon_cfg.bootstrap, ctx.params.seed)
    result.metrics.update({f"attack_{k}": float(v) for k, v in found["metrics"].items()
                           if isinstance(v, int | float) and not isinstance(v, bool)})
    return found["metrics"]["verdict"]
