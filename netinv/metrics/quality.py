"""Inversion quality (docs/evaluation.md, "Inversion quality"): fidelity, evaluation
agreement, diversity and coverage, FID / KID in the evaluation classifier's feature space.

One forward pass of the evaluation classifier (`embed_and_predict`) gives the features and
logits that every metric here needs; the functions below take those arrays and do no I/O.
Images are uint8 (N, C, H, W), labels int (N,), features float (N, F).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from netinv.metrics.diversity import (
    check_features,
    check_images,
    mean_pairwise_cosine,
    mean_pairwise_distance,
    mean_pairwise_ssim,
)
from netinv.metrics.prdc import prdc
from netinv.training import to_float

__all__ = [
    "DIVERSITY_KEYS",
    "EmbedExtractor",
    "distribution_distance",
    "embed_and_predict",
    "fid_kid_with_extractor",
    "frechet_distance",
    "kernel_inception_distance",
    "label_agreement",
    "mean_pairwise_cosine",
    "mean_pairwise_distance",
    "mean_pairwise_ssim",
    "per_class_diversity",
    "prdc",
    "real_control_prdc",
    "same_sized_control",
]


def label_agreement(predicted: np.ndarray, intended: np.ndarray) -> float:
    """Fraction of samples whose predicted label equals the intended one: `fidelity` with the
    inverted classifier's predictions, `evaluation agreement` with the evaluation classifier's.
    `predicted` may be labels (N,) or logits (N, K) (argmax is taken)."""
    predicted, intended = np.asarray(predicted), np.asarray(intended)
    if predicted.ndim == 2:
        predicted = predicted.argmax(axis=1)
    if predicted.ndim != 1 or intended.ndim != 1 or len(predicted) != len(intended):
        raise ValueError(
            f"need labels (N,) or logits (N, K) and intended labels (N,), got {predicted.shape} and {intended.shape}"
        )
    if len(intended) == 0:
        raise ValueError("no samples: agreement of an empty set is undefined")
    return float((predicted == intended).mean())


@torch.no_grad()
def embed_and_predict(
    model: nn.Module,
    images_uint8: np.ndarray,
    device: torch.device | str = "cpu",
    batch_size: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, F), logits (N, K)) as float32 from one eval-mode, full-precision pass.

    Uses `model.embed` and, when the model has one, `model.head` on those features (the
    project's models define forward = head(embed(x))); otherwise calls the model a second
    time for the logits. The model's train/eval mode is restored afterwards.
    """
    images = check_images(images_uint8, "images_uint8", min_count=1)
    if not hasattr(model, "embed"):
        raise ValueError(
            f"{type(model).__name__} has no .embed(x); wrap it so embed returns pooled features"
        )
    was_training = model.training
    model.eval()
    features, logits = [], []
    try:
        for start in range(0, len(images), batch_size):
            x = to_float(
                torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size])).to(
                    device
                )
            )
            f = model.embed(x)
            out = model.head(f) if isinstance(getattr(model, "head", None), nn.Module) else model(x)
            features.append(f.float().flatten(1).cpu())
            logits.append(out.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(features).numpy(), torch.cat(logits).numpy()


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr sqrt(S1 S2) for symmetric PSD S1, S2, as sum sqrt(eig(S1^1/2 S2 S1^1/2)): that matrix
    is symmetric PSD and similar to S1 S2, so the result is real even for singular S1, S2."""
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    eig = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_distance(
    real_features: np.ndarray, fake_features: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017,
    "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium"):

        FID = ||mu_r - mu_f||^2 + tr(S_r + S_f - 2 (S_r S_f)^(1/2))

    with unbiased (N - 1) covariances, as torchmetrics and pytorch-fid. The matrix root is
    taken through a symmetric eigendecomposition, which stays finite when N < F makes the
    covariances singular; should it still not be finite, eps * I is added to both
    covariances (the reference implementation's fallback). Needs >= 2 rows per set.
    """
    real = check_features(real_features, "real_features")
    fake = check_features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"feature sizes differ: real {real.shape[1]}, fake {fake.shape[1]}; embed both with the same network"
        )
    mu_r, mu_f = real.mean(axis=0), fake.mean(axis=0)
    s_r = np.atleast_2d(np.cov(real, rowvar=False))
    s_f = np.atleast_2d(np.cov(fake, rowvar=False))
    covmean = _trace_sqrt_product(s_r, s_f)
    if not np.isfinite(covmean):
        offset = eps * np.eye(len(s_r))
        covmean = _trace_sqrt_product(s_r + offset, s_f + offset)
    value = float(np.square(mu_r - mu_f).sum() + np.trace(s_r) + np.trace(s_f) - 2.0 * covmean)
    return max(value, 0.0)  # rounding can leave -1e-12 for identical sets


def kernel_inception_distance(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    subsets: int = 10,
    subset_size: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018, "Demystifying MMD GANs"): the unbiased estimate of
    MMD^2 with the polynomial kernel k(x, y) = (x.y / F + 1)^3,

        MMD^2 = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1))
                - 2 sum_{i, j} k(x_i, y_j) / m^2

    on `subsets` random subsets of m = min(subset_size, N_real, N_fake) rows of each set
    (drawn without replacement, seeded). Returns (mean, population std) over subsets, as
    torchmetrics. Can be slightly negative when the sets match.
    """
    real = check_features(real_features, "real_features")
    fake = check_features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"feature sizes differ: real {real.shape[1]}, fake {fake.shape[1]}; embed both with the same network"
        )
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"need subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    m = min(subset_size, len(real), len(fake))
    gamma = 1.0 / real.shape[1]
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        k_xx = (x @ x.T * gamma + 1.0) ** 3
        k_yy = (y @ y.T * gamma + 1.0) ** 3
        k_xy = (x @ y.T * gamma + 1.0) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        scores.append(within - 2.0 * k_xy.sum() / m**2)
    return float(np.mean(scores)), float(np.std(scores))


class EmbedExtractor(nn.Module):
    """Feature network for torchmetrics: float (B, C, H, W) in [0, 1] -> model.embed(x)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embed(x).flatten(1)


@torch.no_grad()
def fid_kid_with_extractor(
    extractor: nn.Module,
    real_images_uint8: np.ndarray,
    fake_images_uint8: np.ndarray,
    subset_size: int = 100,
    subsets: int = 10,
    seed: int = 0,
    device: torch.device | str = "cpu",
    batch_size: int = 512,
) -> dict[str, float]:
    """FID and KID from torchmetrics' `FrechetInceptionDistance` / `KernelInceptionDistance`
    with `extractor` (e.g. `EmbedExtractor(evaluator)`) as the feature network.

    torchmetrics (1.9) takes a custom `nn.Module`, infers its feature size from one dummy
    float input of the images' (C, H, W) (`normalize=True`), and passes the float [0, 1]
    batches given to `update` to the module unchanged. The extractor is put in eval mode,
    moved to `device`, and runs once per metric; in the pipeline prefer `embed_and_predict`
    once plus `frechet_distance` / `kernel_inception_distance`, which agree with this.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    real = check_images(real_images_uint8, "real_images_uint8")
    fake = check_images(fake_images_uint8, "fake_images_uint8")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError(f"image shapes differ: real {real.shape[1:]}, fake {fake.shape[1:]}")
    extractor = extractor.to(device).eval()
    m = min(subset_size, len(real), len(fake))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features in buffer.*")
        fid = FrechetInceptionDistance(
            feature=extractor, normalize=True, input_img_size=tuple(real.shape[1:])
        )
        kid = KernelInceptionDistance(
            feature=extractor, subsets=subsets, subset_size=m, normalize=True
        )
    fid, kid = fid.to(device), kid.to(device)
    for images, is_real in ((real, True), (fake, False)):
        for start in range(0, len(images), batch_size):
            x = to_float(
                torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size])).to(
                    device
                )
            )
            fid.update(x, real=is_real)
            kid.update(x, real=is_real)
    with torch.random.fork_rng(devices=[]):  # KID draws subsets with torch.randperm
        torch.manual_seed(seed)
        kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}


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


def _class_rows(labels: np.ndarray, count: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != count:
        raise ValueError(
            f"{name} must be (N,) with N = {count} (one per image), got shape {labels.shape}"
        )
    return labels


def per_class_diversity(
    images: np.ndarray,
    labels: np.ndarray,
    features: np.ndarray,
    real_images: np.ndarray,
    real_labels: np.ndarray,
    real_features: np.ndarray,
    num_classes: int,
    k: int = 5,
    seed: int = 0,
    max_ssim_pairs: int = 500,
    max_pixel_pairs: int = 2000,
) -> dict[str, Any]:
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
    images = check_images(images, "images", min_count=1)
    real_images = check_images(real_images, "real_images", min_count=1)
    labels = _class_rows(labels, len(images), "labels")
    real_labels = _class_rows(real_labels, len(real_images), "real_labels")
    features = check_features(features, "features", min_count=1)
    real_features = check_features(real_features, "real_features", min_count=1)
    if len(features) != len(images) or len(real_features) != len(real_images):
        raise ValueError("features and real_features need one row per image; embed the same arrays")
    if images.shape[1:] != real_images.shape[1:]:
        raise ValueError(
            f"image shapes differ: generated {images.shape[1:]}, real {real_images.shape[1:]}"
        )
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
    summary.update(
        k=k, classes_evaluated=len(per_class), skipped_classes=skipped, per_class=per_class
    )
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


def distribution_distance(
    features: np.ndarray,
    labels: np.ndarray,
    real_features: np.ndarray,
    real_labels: np.ndarray,
    num_classes: int,
    subset_size: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """FID and KID in the evaluation classifier's feature space, overall and per class
    (docs/evaluation.md, "distribution distance"). Classes with fewer than 2 generated or
    real rows are left out of `per_class` and listed in `skipped_classes`."""
    features = check_features(features, "features")
    real_features = check_features(real_features, "real_features")
    labels = _class_rows(labels, len(features), "labels")
    real_labels = _class_rows(real_labels, len(real_features), "real_labels")
    kid, kid_std = kernel_inception_distance(
        real_features, features, subset_size=subset_size, seed=seed
    )
    result: dict[str, Any] = {
        "fid": frechet_distance(real_features, features),
        "kid": kid,
        "kid_std": kid_std,
    }
    per_class: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    for c in range(num_classes):
        gen, real = features[labels == c], real_features[real_labels == c]
        if min(len(gen), len(real)) < 2:
            skipped[str(c)] = (
                f"{len(gen)} generated and {len(real)} real rows; FID and KID need >= 2 of each"
            )
            continue
        kid_c, kid_c_std = kernel_inception_distance(real, gen, subset_size=subset_size, seed=seed)
        per_class[str(c)] = {"fid": frechet_distance(real, gen), "kid": kid_c, "kid_std": kid_c_std}
    result.update(per_class=per_class, skipped_classes=skipped)
    return result
