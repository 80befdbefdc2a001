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


class AuditProfile(Section):
    """One audit profile: the inversion budget, the checks and their thresholds."""

    invert: dict[str, Any] = {"generator_steps": 300, "batch_size": 64, "samples_per_class": 50}
    real_per_class: PositiveInt = 200  # real test images per class for diversity / coverage
    max_abs_diff: Annotated[float, Gt(0)] = 1e-4  # converted module vs onnxruntime
    min_argmax_agreement: Annotated[float, Ge(0), Le(1)] = 1.0
    checks: SampleThresholds = SampleThresholds(  # a short inversion budget: looser thresholds
        min_confidence=Threshold(0.8, "critical"), min_fidelity=Threshold(0.9, "critical"),
        min_eval_agreement=Threshold(0.5, "warning"))
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
