"""The generated-samples table and its expectation suite (issue: validate_samples).

One row per generated image: pixel statistics, the intended label, what the inverted
classifier and the independent judge say, the classifier's confidence and entropy, and
the distance to the nearest other sample of the same class (0 when a class collapses
onto copies). The suite checks each against thresholds with a severity each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist
from scipy.special import softmax

from netinv.config.validation import SampleThresholds
from netinv.validation.dataset import pixel_checks, pixel_columns
from netinv.validation.suite import Check


def nearest_same_class_distance(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per image: RMS pixel distance ([0, 1] scale) to the nearest other image of its class."""
    flat = images.reshape(len(images), -1).astype(np.float32) / 255.0
    out = np.full(len(images), np.nan, dtype=np.float64)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        if len(rows) < 2:
            continue
        d = cdist(flat[rows], flat[rows]) / np.sqrt(flat.shape[1])
        np.fill_diagonal(d, np.inf)
        out[rows] = d.min(axis=1)
    return out


def sample_table(images: np.ndarray, labels: np.ndarray, classifier_logits: np.ndarray,
                 eval_logits: np.ndarray) -> pd.DataFrame:
    probs = softmax(classifier_logits.astype(np.float64), axis=1)
    return pd.DataFrame({
        **pixel_columns(images),
        "intended_label": labels.astype(np.int64),
        "classifier_label": probs.argmax(axis=1),
        "classifier_confidence": probs.max(axis=1),
        "entropy": -(probs * np.log(np.clip(probs, 1e-12, None))).sum(axis=1),
        "eval_label": eval_logits.argmax(axis=1),
        "classifier_agrees": probs.argmax(axis=1) == labels,
        "eval_agrees": eval_logits.argmax(axis=1) == labels,
        "nearest_same_class_distance": nearest_same_class_distance(images, labels),
    })


def pixel_mean_partition(real_images: np.ndarray, bins: int = 20) -> dict:
    """A binned distribution of per-image pixel means of real data, for GX's KL expectation."""
    means = real_images.reshape(len(real_images), -1).astype(np.float32).mean(axis=1)
    counts, edges = np.histogram(means, bins=bins, range=(0, 255))
    weights = (counts + 1e-3) / (counts + 1e-3).sum()  # no empty bin: KL stays finite
    return {"bins": edges.tolist(), "weights": weights.tolist()}


def sample_checks(num_classes: int, thresholds: SampleThresholds, real_partition: dict,
                  real_nearest_distance: float) -> list[Check]:
    t = thresholds
    uniform = [1.0 / num_classes] * num_classes
    return [
        *pixel_checks(),
        Check("label_balance_kl", "ExpectColumnKLDivergenceToBeLessThan",
              {"column": "intended_label", "partition_object": {"values": list(range(num_classes)),
                                                                "weights": uniform},
               "threshold": t.max_label_kl.value}, t.max_label_kl.severity),
        Check("classifier_confidence", "ExpectColumnMeanToBeBetween",
              {"column": "classifier_confidence", "min_value": t.min_confidence.value, "max_value": 1.0},
              t.min_confidence.severity),
        Check("fidelity", "ExpectColumnValuesToBeInSet",
              {"column": "classifier_agrees", "value_set": [True], "mostly": t.min_fidelity.value},
              t.min_fidelity.severity),
        Check("eval_agreement", "ExpectColumnValuesToBeInSet",
              {"column": "eval_agrees", "value_set": [True], "mostly": t.min_eval_agreement.value},
              t.min_eval_agreement.severity),
        Check("pixel_mean_distribution_kl", "ExpectColumnKLDivergenceToBeLessThan",
              {"column": "pixel_mean", "partition_object": real_partition,
               "threshold": t.max_pixel_mean_kl.value}, t.max_pixel_mean_kl.severity),
        Check("within_class_diversity", "ExpectColumnMeanToBeBetween",
              {"column": "nearest_same_class_distance",
               "min_value": t.min_diversity_ratio.value * real_nearest_distance, "max_value": None},
              t.min_diversity_ratio.severity),
    ]
