"""Within-set diversity: mean pairwise cosine of features, SSIM and pixel distance of images.

Each statistic is meant to be read beside the same statistic on real test images of the
class (see docs/evaluation.md, "Diversity within a class"). Images are uint8 (N, C, H, W).
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def check_images(images: np.ndarray, name: str = "images", min_count: int = 2) -> np.ndarray:
    """Raise ValueError unless `images` is a uint8 (N, C, H, W) array with N >= min_count."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"{name} must be (N, C, H, W), got shape {images.shape}; add the channel axis with x[:, None]"
        )
    if images.dtype != np.uint8:
        raise ValueError(
            f"{name} must be uint8 in [0, 255], got {images.dtype}; convert with (x * 255).round().astype(np.uint8)"
        )
    if len(images) < min_count:
        raise ValueError(f"{name}: need at least {min_count} images, got {len(images)}")
    return images


def check_labels(labels: np.ndarray, count: int, name: str) -> np.ndarray:
    """Raise ValueError unless `labels` is (N,) with N = `count`; returns it as an array."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != count:
        raise ValueError(
            f"{name} must be (N,) with N = {count} (one per image), got shape {labels.shape}"
        )
    return labels


def check_features(features: np.ndarray, name: str = "features", min_count: int = 2) -> np.ndarray:
    """Raise ValueError unless `features` is a finite 2-D (N, F) array with N >= min_count; returns float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(
            f"{name} must be (N, F), got shape {features.shape}; flatten with x.reshape(len(x), -1)"
        )
    if len(features) < min_count:
        raise ValueError(f"{name}: need at least {min_count} rows, got {len(features)}")
    if not np.isfinite(features).all():
        raise ValueError(f"{name} contain NaN or inf; check the feature extractor's input range")
    return features


def sample_pairs(n: int, max_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j), i != j: every unordered pair when there are at most `max_pairs`
    of them (exact), else `max_pairs` random ordered pairs drawn with replacement."""
    if n < 2:
        raise ValueError(f"need at least 2 items for pairs, got {n}")
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1, got {max_pairs}")
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, k=1)
        return i, j
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=max_pairs)
    j = rng.integers(0, n - 1, size=max_pairs)
    j = j + (j >= i)  # skip i: uniform over the n - 1 others
    return i, j


def mean_pairwise_cosine(features: np.ndarray) -> float:
    """Mean cosine similarity over all ordered pairs i != j:

        (1 / (N (N - 1))) * sum_{i != j} <x_i, x_j> / (||x_i|| ||x_j||)

    computed exactly in O(N F) as (||sum_i u_i||^2 - sum_i ||u_i||^2) / (N (N - 1)) with
    u_i the unit rows. A zero row counts as cosine 0 with everything.
    """
    x = check_features(features)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    u = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    n = len(u)
    total = float(np.square(u.sum(axis=0)).sum())
    diagonal = float(np.square(u).sum())
    return (total - diagonal) / (n * (n - 1))


def ssim_win_size(height: int, width: int) -> int:
    """skimage's default window is 7; smaller images (8 x 8 digits are fine) need an odd window <= min(H, W)."""
    side = min(height, width)
    if side < 3:
        raise ValueError(f"SSIM needs images of at least 3 x 3 pixels, got {height} x {width}")
    return min(7, side if side % 2 else side - 1)


def mean_pairwise_ssim(images: np.ndarray, max_pairs: int = 500, seed: int = 0) -> float:
    """Mean SSIM (Wang et al. 2004, skimage `structural_similarity`, data_range=255, uniform
    window of `ssim_win_size`) over pairs i != j from `sample_pairs`. Colour images (C = 3)
    use skimage's per-channel mean; 1 = identical, about 0 for independent noise."""
    images = check_images(images)
    _, c, h, w = images.shape
    win = ssim_win_size(h, w)
    i, j = sample_pairs(len(images), max_pairs, seed)
    if c == 1:
        flat = images[:, 0]
        scores = [
            structural_similarity(flat[a], flat[b], data_range=255, win_size=win)
            for a, b in zip(i, j, strict=True)
        ]
    else:
        scores = [
            structural_similarity(
                images[a], images[b], data_range=255, win_size=win, channel_axis=0
            )
            for a, b in zip(i, j, strict=True)
        ]
    return float(np.mean(scores))


def mean_pairwise_distance(
    images: np.ndarray, max_pairs: int = 2000, seed: int = 0, chunk: int = 1024
) -> float:
    """Pixel spread: mean Euclidean distance ||x_i - x_j||_2 over pairs i != j from
    `sample_pairs`, pixels scaled to [0, 1] and all C * H * W values in one vector."""
    images = check_images(images)
    flat = images.reshape(len(images), -1)
    i, j = sample_pairs(len(images), max_pairs, seed)
    distances = []
    for start in range(0, len(i), chunk):
        a = flat[i[start : start + chunk]].astype(np.float32) / 255.0
        b = flat[j[start : start + chunk]].astype(np.float32) / 255.0
        distances.append(np.linalg.norm(a - b, axis=1))
    return float(np.concatenate(distances).astype(np.float64).mean())
