"""Is a reconstruction a *training* image, or just an image of its class? (docs/evaluation.md, "Reconstruction")

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

SSIM and PSNR come from netinv.reconstruction.similarity, the interval and the p-value
from netinv.reconstruction.significance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from netinv.reconstruction.significance import bootstrap_ci, permutation_p_value, set_bootstrap_ci
from netinv.reconstruction.similarity import pairwise_psnr, pairwise_ssim


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
