"""OOD metrics, with the conventions of docs/evaluation.md ("OOD detection") stated once, here and in
every output.

Scores: higher = more likely OOD. In-distribution (ID) is the *positive* class for the
acceptance threshold: FPR@95TPR is the fraction of OOD inputs accepted as ID when the
threshold accepts 95% of ID test inputs (ODIN, Energy and KNN papers). pytorch-ood and
OpenOOD v1.5 treat OOD as positive, which flips that number: we do not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

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


def roc_tables(curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
               digits: int = 6) -> dict[str, list[dict[str, float]]]:
    """{ood_set: rows {fpr, METHOD: tpr, ...}}: each set's ROC curves on one shared FPR grid, so that
    a plot of the method columns against `fpr` draws one line per method (curves[method][ood_set] =
    (fpr, tpr), as `roc_points` gives them).

    The grid is every FPR at which some method's curve has a point; between its own points a
    method's TPR is read off its curve linearly, and where its curve rises vertically (several
    points at one FPR) the highest TPR is kept."""
    methods = list(curves)
    sets = list(next(iter(curves.values()))) if methods else []
    tables = {}
    for name in sets:
        own = {m: _upper_envelope(*curves[m][name]) for m in methods}
        grid = np.unique(np.concatenate([[0.0, 1.0], *(fpr for fpr, _ in own.values())]))
        columns = {m: np.interp(grid, fpr, tpr) for m, (fpr, tpr) in own.items()}
        tables[name] = [{"fpr": round(float(x), digits), **{m: round(float(columns[m][i]), digits) for m in methods}}
                        for i, x in enumerate(grid)]
    return tables


def _upper_envelope(fpr: np.ndarray, tpr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One point per distinct FPR, the highest TPR there, in increasing FPR (what np.interp needs)."""
    unique, inverse = np.unique(np.asarray(fpr, dtype=np.float64), return_inverse=True)
    best = np.full(len(unique), -np.inf)
    np.maximum.at(best, inverse, np.asarray(tpr, dtype=np.float64))
    return unique, best


def uncertainty(probs: np.ndarray) -> np.ndarray:
    """UE(p) = 1 - sum_i (p_i - 1/K)^2 / sum_i (delta_ik - 1/K)^2, k = argmax p (docs/method.md,
    "Out-of-distribution detection").

    0 for a one-hot p, 1 for the uniform p. The denominator is (1 - 1/K)^2 + (K - 1)/K^2 = 1 - 1/K.
    """
    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1]
    spread = ((probs - 1.0 / k) ** 2).sum(axis=1)
    return 1.0 - spread / (1.0 - 1.0 / k)
