"""Distribution distance in a classifier's feature space: FID and KID, overall and per class
(docs/evaluation.md, "Distribution distance").

The pipeline embeds once (netinv.metrics.quality.embed_and_predict) and calls
`frechet_distance` / `kernel_inception_distance` on the features; `fid_kid_with_extractor`
computes the same through torchmetrics, as a cross-check. Features are float (N, F).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from torch import nn

from netinv.metrics.diversity import check_features, check_images, check_labels
from netinv.training import to_float


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
    (docs/evaluation.md, "Distribution distance"). Classes with fewer than 2 generated or
    real rows are left out of `per_class` and listed in `skipped_classes`."""
    features = check_features(features, "features")
    real_features = check_features(real_features, "real_features")
    labels = check_labels(labels, len(features), "labels")
    real_labels = check_labels(real_labels, len(real_features), "real_labels")
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
