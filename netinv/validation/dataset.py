"""The input-data table and its checks: pixel range, no NaN, labels known, classes balanced."""

from __future__ import annotations

import numpy as np
import pandas as pd

from netinv.validation.suite import Check


def pixel_columns(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image pixel statistics (NaN-aware for float inputs): the columns every table shares."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    return {
        "pixel_mean": flat.mean(axis=1),
        "pixel_std": flat.std(axis=1),
        "pixel_min": flat.min(axis=1),
        "pixel_max": flat.max(axis=1),
        "has_nan": np.isnan(flat).any(axis=1),
    }


def pixel_checks() -> list[Check]:
    """Values in the uint8 range and no NaN: critical for real and generated images alike."""
    return [
        Check("pixel_min_in_range", "ExpectColumnValuesToBeBetween",
              {"column": "pixel_min", "min_value": 0, "max_value": 255}),
        Check("pixel_max_in_range", "ExpectColumnValuesToBeBetween",
              {"column": "pixel_max", "min_value": 0, "max_value": 255}),
        Check("no_nan_pixels", "ExpectColumnValuesToBeInSet", {"column": "has_nan", "value_set": [False]}),
    ]


def image_table(images: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """One row per image: label and pixel statistics."""
    return pd.DataFrame({"label": labels.astype(np.int64), **pixel_columns(images)})


def dataset_checks(num_classes: int, max_class_kl: float) -> list[Check]:
    uniform = [1.0 / num_classes] * num_classes
    return [
        *pixel_checks(),
        Check("labels_known", "ExpectColumnValuesToBeInSet",
              {"column": "label", "value_set": list(range(num_classes))}),
        Check("class_balance_kl", "ExpectColumnKLDivergenceToBeLessThan",
              {"column": "label", "partition_object": {"values": list(range(num_classes)), "weights": uniform},
               "threshold": max_class_kl}),
        Check("images_not_blank", "ExpectColumnValuesToBeBetween",
              {"column": "pixel_std", "min_value": 1e-6, "mostly": 0.99}, severity="warning"),
    ]
