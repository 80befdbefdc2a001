"""Precision, recall, density and coverage of a generated set against a real one.

Naeem, Oh, Uh, Choi, Yoo (2020), "Reliable Fidelity and Diversity Metrics for Generative
Models", ICML. Same definitions (strict `<` against the k-NN radius, Euclidean distance,
radius = distance to the k-th nearest *other* sample) as the authors' `prdc` package.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from netinv.metrics.diversity import check_features


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row to its k-th nearest other row (the row itself is excluded)."""
    if len(features) <= k:
        raise ValueError(
            f"k-NN radii with k={k} need more than k samples, got {len(features)}; lower k or add samples"
        )
    distances = cdist(features, features)
    # position 0 of each sorted row is the row itself (distance 0), so the k-th neighbour sits at k
    return np.partition(distances, k, axis=1)[:, k]


def prdc(real_features: np.ndarray, fake_features: np.ndarray, k: int = 5) -> dict[str, float]:
    """Naeem et al. 2020, with real X_1..X_N, fake Y_1..Y_M, B(x, r) the open ball and
    NND_k(x) the distance from x to its k-th nearest neighbour in its own set:

        precision = (1/M) sum_j 1[ exists i: Y_j in B(X_i, NND_k(X_i)) ]
        recall    = (1/N) sum_i 1[ exists j: X_i in B(Y_j, NND_k(Y_j)) ]
        density   = (1/(k M)) sum_j sum_i 1[ Y_j in B(X_i, NND_k(X_i)) ]
        coverage  = (1/N) sum_i 1[ exists j: Y_j in B(X_i, NND_k(X_i)) ]

    Precision and density measure fidelity (density can exceed 1; about 1 when both sets
    come from one distribution); recall and coverage measure diversity. Coverage is the
    paper's robust diversity measure: a mode-collapsed set scores near 0.
    Both sets need more than k rows. Cost O((N + M)^2 F) time, O(N M) memory.
    """
    if not (isinstance(k, int | np.integer) and k >= 1):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    real = check_features(real_features, "real_features", min_count=1)
    fake = check_features(fake_features, "fake_features", min_count=1)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"feature sizes differ: real {real.shape[1]}, fake {fake.shape[1]}; embed both with the same network"
        )
    for name, x in (("real", real), ("fake", fake)):
        if len(x) <= k:
            raise ValueError(
                f"PRDC with k={k} needs more than k {name} samples, got {len(x)}; lower k or add samples"
            )
    real_radii = knn_radii(real, k)
    fake_radii = knn_radii(fake, k)
    distance = cdist(real, fake)  # (N, M)
    inside_real = distance < real_radii[:, None]  # fake j inside the ball of real i
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float((distance < fake_radii[None, :]).any(axis=1).mean()),
        "density": float(inside_real.sum() / (k * len(fake))),
        "coverage": float((distance.min(axis=1) < real_radii).mean()),
    }
