"""How sure is a leakage gap? Bootstrap intervals and a permutation test (netinv.reconstruction.matching).

The gap is the mean over reconstructions of the best SSIM to a training image minus the
best SSIM to a control image, per class. `set_bootstrap_ci` resamples the reconstructions
AND both image sets; `bootstrap_ci` the reconstructions alone (narrower, for comparison);
`permutation_p_value` swaps images between the two sets, exchangeable when nothing leaks.
Similarities come per class as `class_similarities` gives them: {class: (recon rows,
image cols, SSIM matrix)}.
"""

from __future__ import annotations

import numpy as np


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


def difference_ci(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, level: float = 0.95,
                  seed: int = 0) -> tuple[float, float]:
    """Percentile interval of mean(a) - mean(b) for two independent samples, each resampled on its own.

    For the recovered fractions: `a` flags the training images with a reconstruction above the
    threshold, `b` the control images; the two sets are separate draws, so they are not paired.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    diffs = (a[rng.integers(0, len(a), (n_boot, len(a)))].mean(1)
             - b[rng.integers(0, len(b), (n_boot, len(b)))].mean(1))  # (n_boot,)
    alpha = (1 - level) / 2
    return float(np.quantile(diffs, alpha)), float(np.quantile(diffs, 1 - alpha))
