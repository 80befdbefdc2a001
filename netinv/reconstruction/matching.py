"""Is a reconstruction a *training* image, or just an image of its class? (method.md §4)

Every reconstruction is compared with the training subset of its class AND with a
held-out control of the same class and count that the target never saw. A reconstruction
that looks like its class but like no particular training image is as close to the
control as to the training set; only the difference measures leakage:

    gap = mean_i [ max_j SSIM(r_i, t_j) - max_j SSIM(r_i, h_j) ]      (same class as r_i)

with a percentile-bootstrap confidence interval that resamples the reconstructions and
both image sets (each set is itself a random draw), and a permutation test that swaps
images between the training and control sets (exchangeable when nothing leaks). A one-to-one
(Hungarian) matching per class between reconstructions and training images gives the
fraction of training images "recovered" above an SSIM threshold; the same matching
against the control gives its chance level.

SSIM is torchmetrics' ``structural_similarity_index_measure`` (Gaussian window sigma 1.5,
11 taps, reflection padding, K1 = 0.01, K2 = 0.03, data range 1), evaluated for all pairs
at once: the per-image local means and variances are computed once, and each pair costs
one product image and a separable filter. torchmetrics itself costs about 1 ms per pair
on one CPU core (minutes for the 400,000 pairs of a 10,000-image subset); the unit tests
hold this implementation to torchmetrics' own numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

SIGMA = 1.5
K1, K2 = 0.01, 0.03
PAIR_BUDGET = 4_000_000  # padded pixels of one block of pair products: bounds memory (16 MB in float32)


def _as_float(images: np.ndarray | torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1]; float input is taken as already in [0, 1]."""
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if x.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(x.shape)}")
    return x.to(dtype) / 255.0 if x.dtype == torch.uint8 else x.to(dtype)


def _gaussian_1d(dtype: torch.dtype) -> torch.Tensor:
    """torchmetrics' Gaussian taps: k = 2 * int(3.5 sigma + 0.5) + 1 = 11, summing to 1."""
    size = int(3.5 * SIGMA + 0.5) * 2 + 1
    dist = torch.arange((1 - size) / 2, (1 + size) / 2, 1.0, dtype=torch.float64)
    g = torch.exp(-((dist / SIGMA) ** 2) / 2)
    return (g / g.sum()).to(dtype)


def _pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    n, c, h, w = x.shape
    if min(h, w) <= pad:
        raise ValueError(f"images of {h}x{w} are too small for SSIM's {2 * pad + 1}-tap window "
                         f"(need more than {pad} pixels a side)")
    return F.pad(x.reshape(n * c, 1, h, w), (pad, pad, pad, pad), mode="reflect")  # (N*C, 1, H+2p, W+2p)


def _band(g: torch.Tensor, size: int) -> torch.Tensor:
    """(size + k - 1, size): column j holds the taps at rows j..j+k-1, so v @ band filters v (valid)."""
    k = len(g)
    band = torch.zeros(size + k - 1, size, dtype=g.dtype)
    for j in range(size):
        band[j : j + k, j] = g
    return band


def _blur(padded: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter, valid region: (M, 1, H+2p, W+2p) -> (M, H*W).

    Two GEMMs with banded matrices: on a CPU several times faster than a depthwise conv2d.
    """
    m, _, hp, wp = padded.shape
    k = len(g)
    h, w = hp - k + 1, wp - k + 1
    cols = padded.view(m, hp, wp).transpose(1, 2).reshape(m * wp, hp) @ _band(g, h)  # (M*Wp, H)
    rows = cols.view(m, wp, h).transpose(1, 2).reshape(m * h, wp) @ _band(g, w)  # (M*H, W)
    return rows.view(m, h * w)


def pairwise_ssim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor,
                  dtype: torch.dtype = torch.float32) -> np.ndarray:
    """SSIM of every pair (a_i, b_j): (len(a), len(b)) float64, torchmetrics' definition.

    Per-image local means and variances are filtered once; each pair costs one product image
    and one separable filter (reflection padding commutes with the product). For colour
    images the map is averaged over channels and pixels, as torchmetrics does.
    """
    x, y = _as_float(a, dtype), _as_float(b, dtype)
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"image shapes differ: {tuple(x.shape[1:])} vs {tuple(y.shape[1:])}")
    out = np.empty((len(x), len(y)))
    if len(x) == 0 or len(y) == 0:
        return out
    g = _gaussian_1d(dtype)
    pad = (len(g) - 1) // 2
    channels, height, width = x.shape[1:]
    xp, yp = _pad(x, pad), _pad(y, pad)  # (Na*C, 1, Hp, Wp), (Nb*C, 1, Hp, Wp)
    mu_x, mu_y = _blur(xp, g).reshape(len(x), -1), _blur(yp, g).reshape(len(y), -1)  # (Na, CHW), (Nb, CHW)
    var_x = (_blur(xp * xp, g).reshape(len(x), -1) - mu_x**2).clamp_min(0.0)
    var_y = (_blur(yp * yp, g).reshape(len(y), -1) - mu_y**2).clamp_min(0.0)
    xp = xp.view(len(x), channels, *xp.shape[2:])  # (Na, C, Hp, Wp)
    yp = yp.view(len(y), channels, *yp.shape[2:])
    c1, c2 = K1**2, K2**2
    block = max(1, PAIR_BUDGET // (len(x) * xp[0].numel()))
    for start in range(0, len(y), block):
        sl = slice(start, start + block)
        nb = len(yp[sl])
        product = (xp[:, None] * yp[None, sl]).reshape(-1, 1, *xp.shape[2:])  # (Na*nb*C, 1, Hp, Wp)
        e_xy = _blur(product, g).reshape(len(x), nb, channels * height * width)  # (Na, nb, CHW)
        mxy = mu_x[:, None] * mu_y[None, sl]  # (Na, nb, CHW)
        num = (2 * mxy + c1) * (2 * (e_xy - mxy) + c2)
        den = (mu_x[:, None] ** 2 + mu_y[None, sl] ** 2 + c1) * (var_x[:, None] + var_y[None, sl] + c2)
        out[:, sl] = (num / den).mean(dim=2).double().numpy()
    return out


PSNR_CAP_DB = 100.0  # identical images: a finite ceiling keeps means and JSON finite


def pairwise_psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """PSNR (dB, data range 1) of every pair: (len(a), len(b)), capped at PSNR_CAP_DB for identical images."""
    x, y = _as_float(a).flatten(1), _as_float(b).flatten(1)  # (Na, D), (Nb, D)
    mse = ((x**2).sum(1)[:, None] + (y**2).sum(1)[None, :] - 2 * x @ y.T).clamp_min(0.0) / x.shape[1]
    return (10 * torch.log10(1.0 / mse.clamp_min(10 ** (-PSNR_CAP_DB / 10)))).numpy().astype(np.float64)


def class_similarities(recons: np.ndarray, recon_labels: np.ndarray, images: np.ndarray,
                       labels: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per class c of the reconstructions: (recon rows, image cols, SSIM matrix (rows, cols)).

    Only same-class pairs are compared: a reconstruction is meant to be of its class.
    """
    recon_labels, labels = np.asarray(recon_labels), np.asarray(labels)
    out = {}
    for c in np.unique(recon_labels):
        rows, cols = np.flatnonzero(recon_labels == c), np.flatnonzero(labels == c)
        out[int(c)] = (rows, cols, pairwise_ssim(recons[rows], images[cols]))
    return out


def best_matches(recons: np.ndarray, recon_labels: np.ndarray, images: np.ndarray, labels: np.ndarray,
                 similarities: dict | None = None) -> dict[str, np.ndarray]:
    """For each reconstruction, its most similar image of the same class in `images`.

    Returns `ssim` (best SSIM), `index` (index into `images` of the best-SSIM image) and
    `psnr` (best PSNR over the same class, possibly another image), each (len(recons),).
    A class absent from `images` gives NaN / -1. `similarities`: from `class_similarities`.
    """
    if similarities is None:
        similarities = class_similarities(recons, recon_labels, images, labels)
    ssim = np.full(len(recons), np.nan)
    psnr = np.full(len(recons), np.nan)
    index = np.full(len(recons), -1, dtype=np.int64)
    for rows, cols, s in similarities.values():
        if len(cols) == 0:
            continue
        best = s.argmax(axis=1)
        ssim[rows] = s[np.arange(len(rows)), best]
        index[rows] = cols[best]
        psnr[rows] = pairwise_psnr(recons[rows], images[cols]).max(axis=1)
    return {"ssim": ssim, "index": index, "psnr": psnr}


def hungarian_recovered(similarity: np.ndarray, threshold: float) -> tuple[int, np.ndarray, np.ndarray]:
    """One-to-one matching maximising total similarity (rows: reconstructions, cols: images).

    Returns (number of matched pairs with similarity > threshold, matched rows, matched cols).
    Rectangular matrices are fine: min(rows, cols) pairs are matched.
    """
    if similarity.size == 0:
        return 0, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    return int((similarity[rows, cols] > threshold).sum()), rows, cols


def matched_fraction(recons: np.ndarray, recon_labels: np.ndarray, images: np.ndarray, labels: np.ndarray,
                     threshold: float, similarities: dict | None = None) -> float:
    """Fraction of `images` that a per-class one-to-one matching pairs with a reconstruction at SSIM > threshold."""
    if similarities is None:
        similarities = class_similarities(recons, recon_labels, images, labels)
    recovered = sum(hungarian_recovered(s, threshold)[0] for _, _, s in similarities.values())
    return recovered / len(labels) if len(labels) else float("nan")


def bootstrap_ci(differences: np.ndarray, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `differences` (resampled with replacement)."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)  # (n_boot,)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def _paired(train_sims: dict, control_sims: dict) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per class: (recon rows, SSIM to training images, SSIM to control images), classes present in both."""
    out = []
    for c, (rows, _, s_train) in train_sims.items():
        s_control = control_sims[c][2]
        if s_train.shape[1] and s_control.shape[1]:
            out.append((rows, s_train, s_control))
    return out


TOP_K = 64  # columns per row a masked max looks at first; beyond it only if none of them is drawn


def _masked_max(similarity: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(r, m) similarities, (B, m) column masks -> (B, r): each row's max over the masked columns.

    Looks only at each row's TOP_K largest columns first: a random half (or a bootstrap
    draw) of m columns misses all 64 of them with probability below 1e-12, and a row that
    does is recomputed over every column, so the result is exact either way.
    """
    k = min(TOP_K, similarity.shape[1])
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k] if k < similarity.shape[1] else \
        np.broadcast_to(np.arange(k), (similarity.shape[0], k))  # (r, k)
    top_values = np.take_along_axis(similarity, top, axis=1)  # (r, k)
    best = np.where(mask[:, top], top_values[None], -np.inf).max(axis=2)  # (B, r)
    missed = np.isneginf(best)
    if missed.any():
        full = np.where(mask[:, None, :], similarity[None], -np.inf).max(axis=2)
        best[missed] = full[missed]
    return best


def _chunks(n_total: int, r: int, m: int) -> list[int]:
    """Replicate counts per vectorised chunk, keeping (chunk, r, m) arrays near 4M elements."""
    step = max(1, 4_000_000 // max(1, r * m))
    return [min(step, n_total - start) for start in range(0, n_total, step)]


def set_bootstrap_ci(train_sims: dict, control_sims: dict, n_boot: int = 1000, level: float = 0.95,
                     seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the gap, resampling the reconstructions AND both image sets.

    Each replicate resamples, within every class, the training images, the control images
    (columns: which images happened to be drawn into each set) and the reconstructions
    (rows), then recomputes the mean best-train minus best-control SSIM. Resampling rows
    alone (`bootstrap_ci`) ignores that the two sets are themselves random draws; with
    large sets the maxima then differ by chance more than that interval admits.
    """
    rng = np.random.default_rng(seed)
    classes = _paired(train_sims, control_sims)
    if not classes:
        return float("nan"), float("nan")
    total = sum(len(rows) for rows, _, _ in classes)
    sums = np.zeros(n_boot)
    for _, s_train, s_control in classes:
        r = s_train.shape[0]
        done = 0
        for size in _chunks(n_boot, r, max(s_train.shape[1], s_control.shape[1])):
            best = []
            for sim in (s_train, s_control):
                n = sim.shape[1]
                mask = np.zeros((size, n), dtype=bool)
                mask[np.arange(size)[:, None], rng.integers(0, n, (size, n))] = True  # drawn columns
                best.append(_masked_max(sim, mask))  # (size, r)
            pick = rng.integers(0, r, (size, r))  # resampled reconstructions
            diff = np.take_along_axis(best[0] - best[1], pick, axis=1)  # (size, r)
            sums[done : done + size] += diff.sum(axis=1)
            done += size
    means = sums / total
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def permutation_p_value(train_sims: dict, control_sims: dict, observed: float, n_perm: int = 1000,
                        seed: int = 0) -> float:
    """One-sided p-value of the gap under "the target treats training and control images alike".

    Under that null the two sets are exchangeable: within each class, pool them, split the
    pool at random into a pseudo-training and a pseudo-control set of the original sizes,
    and recompute the gap. p = (1 + #{permuted gap >= observed}) / (1 + n_perm).
    """
    rng = np.random.default_rng(seed)
    classes = _paired(train_sims, control_sims)
    if not classes:
        return float("nan")
    total = sum(len(rows) for rows, _, _ in classes)
    sums = np.zeros(n_perm)
    for _, s_train, s_control in classes:
        pool = np.concatenate([s_train, s_control], axis=1)  # (r, n_t + n_h)
        n_t = s_train.shape[1]
        done = 0
        for size in _chunks(n_perm, pool.shape[0], pool.shape[1]):
            ranks = rng.random((size, pool.shape[1])).argsort(axis=1).argsort(axis=1)
            pseudo_train = ranks < n_t  # (size, m): a random n_t of the pooled images
            diff = _masked_max(pool, pseudo_train) - _masked_max(pool, ~pseudo_train)  # (size, r)
            sums[done : done + size] += diff.sum(axis=1)
            done += size
    exceed = int((sums / total >= observed - 1e-12).sum())
    return (1 + exceed) / (1 + n_perm)


def _check_labelled(images: np.ndarray, labels: np.ndarray, name: str) -> None:
    if np.asarray(images).ndim != 4:
        raise ValueError(f"{name} images must be (N, C, H, W), got shape {np.asarray(images).shape}")
    if len(images) != len(labels):
        raise ValueError(f"{name}: {len(images)} images but {len(labels)} labels")


def leakage(recons: np.ndarray, recon_labels: np.ndarray, train_images: np.ndarray, train_labels: np.ndarray,
            control_images: np.ndarray, control_labels: np.ndarray, threshold: float = 0.4,
            bootstrap: int = 1000, seed: int = 0, details: bool = False) -> dict[str, Any]:
    """The leakage audit of a set of reconstructions (see the module docstring).

    Returns `ssim_train_mean`, `ssim_control_mean`, `leakage_gap` (their difference, the mean
    per-reconstruction difference), `gap_ci_low` / `gap_ci_high` (95% percentile bootstrap
    over reconstructions and both image sets, `set_bootstrap_ci`), `gap_p_value` (permutation
    test, `permutation_p_value`), `gap_ci_recons_low` / `_high` (resampling reconstructions
    only: narrower, for comparison), `psnr_train_mean`, `psnr_control_mean`, `matched_frac_train`,
    `matched_frac_control` (Hungarian, SSIM > `threshold`), `num_reconstructions`. With
    `details=True` also the per-reconstruction arrays under `per_reconstruction`.
    """
    _check_labelled(recons, recon_labels, "reconstructions")
    _check_labelled(train_images, train_labels, "training")
    _check_labelled(control_images, control_labels, "control")
    if not np.array_equal(np.bincount(train_labels), np.bincount(control_labels)):
        raise ValueError("the control must hold as many images per class as the training set: "
                         f"{np.bincount(train_labels).tolist()} vs {np.bincount(control_labels).tolist()}")
    train_sims = class_similarities(recons, recon_labels, train_images, train_labels)
    control_sims = class_similarities(recons, recon_labels, control_images, control_labels)
    train = best_matches(recons, recon_labels, train_images, train_labels, train_sims)
    control = best_matches(recons, recon_labels, control_images, control_labels, control_sims)
    diff = train["ssim"] - control["ssim"]  # (R,)
    gap = float(np.nanmean(diff))
    low, high = set_bootstrap_ci(train_sims, control_sims, bootstrap, 0.95, seed)
    recon_low, recon_high = bootstrap_ci(diff, bootstrap, 0.95, seed)
    finite = np.isfinite(train["psnr"]) & np.isfinite(control["psnr"])
    result: dict[str, Any] = {
        "ssim_train_mean": float(np.nanmean(train["ssim"])),
        "ssim_control_mean": float(np.nanmean(control["ssim"])),
        "leakage_gap": gap,
        "gap_ci_low": low,
        "gap_ci_high": high,
        "gap_p_value": permutation_p_value(train_sims, control_sims, gap, bootstrap, seed),
        "gap_ci_recons_low": recon_low,
        "gap_ci_recons_high": recon_high,
        "psnr_train_mean": float(train["psnr"][finite].mean()) if finite.any() else float("nan"),
        "psnr_control_mean": float(control["psnr"][finite].mean()) if finite.any() else float("nan"),
        "matched_frac_train": matched_fraction(recons, recon_labels, train_images, train_labels, threshold,
                                               train_sims),
        "matched_frac_control": matched_fraction(recons, recon_labels, control_images, control_labels, threshold,
                                                 control_sims),
        "ssim_threshold": threshold,
        "num_reconstructions": len(recons),
    }
    if details:
        result["per_reconstruction"] = {"train": train, "control": control}
    return result
