"""The `audit` section of params.yaml: where audits read and write, and the named profiles.

A profile holds the audit's own thresholds and, as partial overrides, the budgets it takes
from the pipeline's sections (`invert` for the generator, `reconstruct` for the leakage
probe's objective): merged by `Section.overridden`, never rewritten by the core.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le
from pydantic import field_validator

from netinv.config import NonNegative, PositiveInt
from netinv.config.validation import SampleThresholds, Threshold
from stages.schema import ParamsError, Section

OodMethod = Literal["msp", "maxlogit", "energy", "mahalanobis", "knn", "vim"]


class OodProbeParams(Section):
    """The audit's OOD probe: post-hoc detectors on the audited model."""

    methods: list[OodMethod] = ["msp", "energy", "mahalanobis", "knn", "vim"]
    sets: list[Literal["mnist", "gaussian", "uniform"]] = ["mnist", "gaussian", "uniform"]
    set_size: PositiveInt = 1000
    id_per_class: PositiveInt = 100  # real test images per class (the in-distribution side)
    fit_per_class: PositiveInt = 500  # training images per class to fit the detectors
    knn_k: PositiveInt = 50
    vim_dim: PositiveInt = 64
    min_auroc: Threshold = Threshold(0.9, "warning")  # the best detector, on each OOD set


class LeakageProbeParams(Section):
    """The audit's leakage probe: reconstructions of the audited model against its training split
    and the held-out validation split; the objective is the `reconstruct` section's, with `reconstruct`'s
    overrides here."""

    reference_size: PositiveInt = 1000  # class-balanced training images, and as many held-out ones
    reconstruct: dict[str, Any] = {"per_class": 10, "recon_steps": 100}
    max_gap_ci_low: Threshold = Threshold(0.0, "warning")  # leakage when the interval lies above this


class QualityGates(Section):
    """What the samples must show beyond fidelity and confidence, which any degenerate inversion meets
    (grey speckle the classifier is sure of): that a judge no choice was made on recognises them, and
    that they reach the real data. Minimum requirements, none tuned on the held-out judge's number."""

    # A majority of the samples recognised by the held-out judge (an MLP; chance is 1 / classes): below,
    # the samples carry the classifier's shortcuts rather than its classes.
    min_heldout_agreement: Threshold = Threshold(0.5, "critical")
    # coverage / coverage_real: the samples must cover at least 1/25 of the real test images that as
    # many real images cover. Measured on the Fashion-MNIST classifier at the default audit budget:
    # its .pt inversion 0.086; its ONNX export's (no batch-norm prior) near-identical speckle 0.020.
    min_coverage_ratio: Threshold = Threshold(0.04, "critical")


class VerdictParams(Section):
    """The verdict card of the pipeline's report (audit/verdict.py): what the metrics files must show
    for each answer to pass. A missed critical threshold answers "fail", a missed warning "warn"."""

    learned: QualityGates = QualityGates()  # the inversion's samples (metrics/inversion.json)
    min_best_auroc: Threshold = Threshold(0.9, "critical")  # per OOD set, the best detector (the audit's probe: 0.9)
    # per OOD set, the share the garbage class takes at its own decision rule (argmax): at least half,
    # else most of that set is accepted as clothes when no detector threshold is tuned
    min_rejection_rate: Threshold = Threshold(0.5, "warning")
    max_id_rejection_rate: Threshold = Threshold(0.05, "warning")  # real test images sent to the garbage class
    # leakage: the recovered-fraction gap's 95% interval lies above this (netinv.reconstruction.recovery)
    max_recovered_ci_low: Threshold = Threshold(0.0, "critical")


class AuditProfile(Section):
    """One audit profile: the inversion budget, the checks and their thresholds."""

    invert: dict[str, Any] = {"generator_steps": 300, "batch_size": 64, "samples_per_class": 50}
    real_per_class: PositiveInt = 200  # real test images per class for diversity / coverage
    max_abs_diff: Annotated[float, Gt(0)] = 1e-4  # converted module vs onnxruntime
    min_argmax_agreement: Annotated[float, Ge(0), Le(1)] = 1.0
    checks: SampleThresholds = SampleThresholds(  # a short inversion budget: looser thresholds
        min_confidence=Threshold(0.8, "critical"), min_fidelity=Threshold(0.9, "critical"),
        min_eval_agreement=Threshold(0.5, "warning"))
    gates: QualityGates = QualityGates()  # set-level: the held-out judge, coverage against real images
    max_drop: dict[str, NonNegative] = {"fidelity": 0.05, "eval_agreement": 0.1}  # vs the previous audit
    probes: list[str] = ["ood", "leakage"]  # further probes by name (audit.probes.PROBES)
    ood: OodProbeParams = OodProbeParams()
    leakage: LeakageProbeParams = LeakageProbeParams()


class AuditParams(Section):
    """Production audits (`python -m pipeline audit MODEL`, the nightly deployment)."""

    model: str = "models:/netinv-classifier@champion"
    profile: str = "default"
    experiment: str = "audits"
    data: str = "data/prepared"  # real reference images (the test split)
    evaluator: str = "models/evaluator.pt"  # the independent judge
    heldout: str = "models/heldout.pt"  # the held-out judge (stage train@heldout), read by the gates
    reports: str = "reports/audits"
    profiles: dict[str, AuditProfile] = {"default": AuditProfile()}

    @field_validator("profiles")
    @classmethod
    def _has_profiles(cls, profiles: dict[str, AuditProfile]) -> dict[str, AuditProfile]:
        if not profiles:
            raise ValueError("audit.profiles needs at least one profile")
        return profiles

    def get_profile(self, name: str | None = None) -> AuditProfile:
        name = name or self.profile
        if name not in self.profiles:
            raise ParamsError(f"unknown audit profile '{name}'; profiles in params.yaml: {', '.join(self.profiles)}")
        return self.profiles[name]
