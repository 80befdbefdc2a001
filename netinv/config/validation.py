"""Thresholds of the generated-samples suite, each with the severity of its failure."""

from __future__ import annotations

from netinv.config import Severity, config_dataclass


@config_dataclass
class Threshold:
    value: float
    severity: Severity  # a failed critical check fails the stage; a warning is reported only


@config_dataclass
class SampleThresholds:
    """The generated-samples suite's thresholds, each with the severity of its failure."""

    max_label_kl: Threshold = Threshold(0.05, "critical")  # intended labels balanced
    min_confidence: Threshold = Threshold(0.9, "critical")  # mean classifier confidence
    min_fidelity: Threshold = Threshold(0.95, "critical")  # the classifier assigns the intended label
    min_eval_agreement: Threshold = Threshold(0.8, "warning")  # the independent judge agrees
    max_pixel_mean_kl: Threshold = Threshold(1.0, "warning")  # per-image pixel means vs real training data
    min_diversity_ratio: Threshold = Threshold(0.5, "warning")  # nearest same-class distance vs real data's
