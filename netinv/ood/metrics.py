"""OOD metrics, with the conventions of evaluation.md stated once, here and in every output.

Scores: higher = more likely OOD. In-distribution (ID) is the *positive* class for the
acceptance threshold: FPR@95TPR is the fraction of OOD inputs accepted as ID when the
threshold accepts 95% of ID test inputs (ODIN, Energy and KNN papers). pytorch-ood and
OpenOOD v1.5 treat OOD as positive, which flips that number: we do not.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

CONVENTIONS = {
    "scores": "higher = more likely OOD",
    "auroc": "area under the ROC of OOD-vs-ID by score (symmetric in which class is positive)",
    "aupr_in": "average precision with ID as positive, ranked by -score",
    "aupr_out": "average precision with OOD as positive, ranked by score",
    "fpr95": "fraction of OOD inputs accepted as ID at the threshold that accepts 95% of ID test inputs "
             "(ID positive: ODIN / Energy / KNN papers; pytorch-ood and OpenOOD v1.5 flip it)",
    "id_accuracy": "accuracy over the n real classes (argmax over the real-class logits)",
    "id_rejection_rate": "fraction of ID test inputs whose argmax is the garbage class",
}


def _check(id_scores: np.ndarray, ood_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    id_scores = np.asarray(id_scores, dtype=np.float64).ravel()
    ood_scores = np.asarray(ood_scores, dtype=np.float64).ravel()
    if len(id_scores) == 0 or len(ood_scores) == 0:
        raise ValueError(f"need ID and OOD scores, got {len(id_scores)} ID and {len(ood_scores)} OOD")
    if not (np.isfinite(id_scores).all() and np.isfinite(ood_scores).all()):
        raise ValueError("scores contain NaN or infinity; check the detector's inputs")
    return id_scores, ood_scores


def fpr_at_tpr(id_scores: np.ndarray, ood_scores: np.ndarray, tpr: float = 0.95) -> float:
    """Fraction of OOD scores <= t, t the smallest ID score with at least `tpr` of ID scores <= t.

    An input is accepted as ID when its score is <= t; ties with t are accepted.
    """
    id_scores, ood_scores = _check(id_scores, ood_scores)
    ranked = np.sort(id_scores)
    threshold = ranked[max(math.ceil(tpr * len(ranked)) - 1, 0)]
    return float(np.mean(ood_scores <= threshold))


def ood_metrics(id_scores: np.ndarray, ood_scores: np.ndarray) -> dict[str, float]:
    """{"auroc", "aupr_in", "aupr_out", "fpr95"} for scores where higher = more likely OOD."""
    id_scores, ood_scores = _check(id_scores, ood_scores)
    scores = np.concatenate([id_scores, ood_scores])
    is_ood = np.concatenate([np.zeros(len(id_scores)), np.ones(len(ood_scores))])
    return {
        "auroc": float(roc_auc_score(is_ood, scores)),
        "aupr_in": float(average_precision_score(1 - is_ood, -scores)),
        "aupr_out": float(average_precision_score(is_ood, scores)),
        "fpr95": fpr_at_tpr(id_scores, ood_scores),
    }


def roc_points(id_scores: np.ndarray, ood_scores: np.ndarray, max_points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) of OOD-vs-ID (OOD positive, as the plot's axes say), thinned to <= max_points."""
    id_scores, ood_scores = _check(id_scores, ood_scores)
    scores = np.concatenate([id_scores, ood_scores])
    is_ood = np.concatenate([np.zeros(len(id_scores)), np.ones(len(ood_scores))])
    fpr, tpr, _ = roc_curve(is_ood, scores)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return fpr, tpr


def uncertainty(probs: np.ndarray) -> np.ndarray:
    """UE(p) = 1 - sum_i (p_i - 1/K)^2 / sum_i (delta_ik - 1/K)^2, k = argmax p (method.md §3).

    0 for a one-hot p, 1 for the uniform p. The denominator is (1 - 1/K)^2 + (K - 1)/K^2 = 1 - 1/K.
    """
    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1]
    spread = ((probs - 1.0 / k) ** 2).sum(axis=1)
    return 1.0 - spread / (1.0 - 1.0 / k)
