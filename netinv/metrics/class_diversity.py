"""Diversity and coverage per class: generated images against real images of the same class.

Per class: mean pairwise cosine of features, SSIM and pixel spread (netinv.metrics.diversity)
beside the same numbers on real images, and Naeem et al. (2020) precision / recall /
density / coverage (netinv.metrics.prdc). Coverage depends on the set sizes, so a real
control of the generated counts per class (`same_sized_control`, `real_control_prdc`)
gives the ceiling to read it against. Images are uint8 (N, C, H, W), features float (N, F).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from netinv.metrics.diversity import (
    check_features,
    check_images,
    check_labels,
    mean_pairwise_cosine,
    mean_pairwise_distance,
    mean_pairwise_ssim,
)
from netinv.metrics.prdc import prdc

DIVERSITY_KEYS = (
    "diversity_cosine",
    "diversity_cosine_real",
    "diversity_ssim",
    "diversity_ssim_real",
    "pixel_spread_ratio",
    "precision",
    "recall",
    "density",
    "coverage",
)


def _checked(images: np.ndarray, labels: np.ndarray, features: np.ndarray, real_images: np.ndarray,
             real_labels: np.ndarray, real_features: np.ndarray) -> tuple[np.ndarray, ...]:
    """The six arrays of `per_class_diversity`, checked (one label and one feature row per image)."""
    images = check_images(images, "images", min_count=1)
    real_images = check_images(real_images, "real_images", min_count=1)
    labels = check_labels(labels, len(images), "labels")
    real_labels = check_labels(real_labels, len(real_images), "real_labels")
    features = check_features(features, "features", min_count=1)
    real_features = check_features(real_features, "real_features", min_count=1)
    if len(features) != len(images) or len(real_features) != len(real_images):
        raise ValueError("features and real_features need one row per image; embed the same arrays")
    if images.shape[1:] != real_images.shape[1:]:
        raise ValueError(
            f"image shapes differ: generated {images.shape[1:]}, real {real_images.shape[1:]}"
        )
    return images, labels, features, real_images, real_labels, real_features


def per_class_diversity(images: np.ndarray, labels: np.ndarray, features: np.ndarray, real_images: np.ndarray,
                        real_labels: np.ndarray, real_features: np.ndarray, num_classes: int, k: int = 5,
                        seed: int = 0, max_ssim_pairs: int = 500, max_pixel_pairs: int = 2000) -> dict[str, Any]:
    """Diversity and coverage per class, generated vs real test images of that class.

    Per class c: `diversity_cosine[_real]` (mean pairwise cosine of features),
    `diversity_ssim[_real]` (mean pairwise SSIM), `pixel_spread_ratio` = mean pairwise pixel
    distance of generated / of real, and Naeem et al. (2020) `precision`, `recall`,
    `density`, `coverage` with k neighbours, generated against real of class c. Top-level
    values are unweighted means over the evaluated classes; `per_class` (keys str(c)) holds
    each class's values and counts. A class with fewer than k + 1 real images is skipped and
    listed in `skipped_classes` with the reason; a class with fewer than k + 1 generated
    images raises ValueError (generate more per class or lower k).
    """
    images, labels, features, real_images, real_labels, real_features = _checked(
        images, labels, features, real_images, real_labels, real_features)
    per_class: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    for c in range(num_classes):
        gen, real = np.flatnonzero(labels == c), np.flatnonzero(real_labels == c)
        if len(gen) < k + 1:
            raise ValueError(
                f"class {c}: {len(gen)} generated images, PRDC with k={k} needs >= {k + 1}; generate more or lower k"
            )
        if len(real) < k + 1:
            skipped[str(c)] = f"{len(real)} real images, PRDC with k={k} needs >= {k + 1}"
            continue
        spread = mean_pairwise_distance(images[gen], max_pixel_pairs, seed)
        spread_real = mean_pairwise_distance(real_images[real], max_pixel_pairs, seed)
        if spread_real == 0.0:
            skipped[str(c)] = (
                "real images of the class are all identical: pixel spread ratio undefined"
            )
            continue
        per_class[str(c)] = {
            "diversity_cosine": mean_pairwise_cosine(features[gen]),
            "diversity_cosine_real": mean_pairwise_cosine(real_features[real]),
            "diversity_ssim": mean_pairwise_ssim(images[gen], max_ssim_pairs, seed),
            "diversity_ssim_real": mean_pairwise_ssim(real_images[real], max_ssim_pairs, seed),
            "pixel_spread": spread,
            "pixel_spread_real": spread_real,
            "pixel_spread_ratio": spread / spread_real,
            **prdc(real_features[real], features[gen], k=k),
            "num_generated": len(gen),
            "num_real": len(real),
        }
    if not per_class:
        raise ValueError(
            f"no class could be evaluated: {skipped}; pass real test images of each class"
        )
    summary: dict[str, Any] = {
        key: float(np.mean([v[key] for v in per_class.values()])) for key in DIVERSITY_KEYS
    }
    summary.update(k=k, classes_evaluated=len(per_class), skipped_classes=skipped, per_class=per_class)
    return summary


CONTROL_KEYS = ("precision_real", "recall_real", "density_real", "coverage_real")


def same_sized_control(labels: np.ndarray, control_labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Indices into a real control set with as many images of each class as `labels` has.

    PRDC depends on the set sizes: with 200 samples against 1,000 real images, even real
    images of the class reach a coverage of only about 0.6 (1,000 against 1,000: about
    0.97). A control set of exactly the generated counts gives the ceiling to read the
    generated coverage against.
    """
    rng = np.random.default_rng(seed)
    picks = []
    for c, count in zip(*np.unique(labels, return_counts=True), strict=True):
        pool = np.flatnonzero(control_labels == c)
        if len(pool) < count:
            raise ValueError(
                f"class {c}: {count} generated images but only {len(pool)} real control images; "
                "pass a larger control set (e.g. the training split) or generate fewer"
            )
        picks.append(rng.choice(pool, size=count, replace=False))
    return np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)


def real_control_prdc(
    real_features: np.ndarray,
    real_labels: np.ndarray,
    control_features: np.ndarray,
    control_labels: np.ndarray,
    classes: list[str],
    k: int = 5,
) -> dict[str, Any]:
    """PRDC of real control images against the same real reference, per class and averaged.

    The keys end in `_real` (`coverage_real`, ...): what a perfect generator would score
    with this many samples per class. `classes` are the per-class keys that were evaluated.
    """
    per_class = {
        c: {f"{key}_real": value for key, value in prdc(
            real_features[real_labels == int(c)], control_features[control_labels == int(c)], k=k).items()}
        for c in classes
    }
    summary = {key: float(np.mean([v[key] for v in per_class.values()])) for key in CONTROL_KEYS}
    return {**summary, "per_class": per_class}
