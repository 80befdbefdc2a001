"""Evaluating a saved OOD detector: every method on the ID test split against every OOD set.

One table (`metrics`) of AUROC / AUPR-in / AUPR-out / FPR@95TPR per method and OOD set,
each method's mean AUROC over the sets and the best method by it; the garbage model's ID
accuracy (over the n real classes) beside the plain classifier's, and how often it rejects
ID and OOD inputs; the ROC curve of every (method, set), as points and as CSV rows. The
conventions (netinv.ood.metrics.CONVENTIONS) travel with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from netinv.ood.detector import OodDetector
from netinv.ood.garbage_model import class_probs
from netinv.ood.metrics import CONVENTIONS, ood_metrics, roc_points


@dataclass
class Evaluation:
    """`metrics`: methods, id_accuracy, id_rejection_rate, ood_rejection_rate, best_method,
    conventions, ood_sets (their sizes), num_id_test. `roc_rows`: one {method, ood_set, fpr,
    tpr} per ROC point. `curves`: {method: {ood_set: (fpr, tpr)}}."""

    metrics: dict[str, Any]
    roc_rows: list[dict[str, Any]] = field(default_factory=list)
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    id_scores: dict[str, np.ndarray] = field(default_factory=dict)  # {method: scores of the ID test inputs}
    ood_scores: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # {ood_set: {method: scores}}

    def aurocs(self) -> dict[str, dict[str, float]]:
        """{method: {ood_set: AUROC}}, without the per-method mean."""
        return {method: {name: table[name]["auroc"] for name in self.metrics["ood_sets"]}
                for method, table in self.metrics["methods"].items()}


def method_tables(id_scores: dict[str, np.ndarray], ood_scores: dict[str, dict[str, np.ndarray]],
                  methods: tuple[str, ...]) -> Evaluation:
    """The per-method, per-set OOD metrics with each method's `mean_auroc`, and the ROC curves."""
    tables: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    roc_rows = []
    for method in methods:
        tables[method], curves[method] = {}, {}
        for name in ood_scores:
            tables[method][name] = ood_metrics(id_scores[method], ood_scores[name][method])
            fpr, tpr = curves[method][name] = roc_points(id_scores[method], ood_scores[name][method])
            roc_rows += [{"method": method, "ood_set": name, "fpr": float(f), "tpr": float(t)}
                         for f, t in zip(fpr, tpr, strict=True)]
        tables[method]["mean_auroc"] = float(np.mean([tables[method][s]["auroc"] for s in ood_scores]))
    return Evaluation({"methods": tables}, roc_rows, curves)


def evaluate_detector(detector: OodDetector, classifier: nn.Module, test_images: np.ndarray,
                      test_labels: np.ndarray, ood_sets: dict[str, np.ndarray]) -> Evaluation:
    """Score the ID test split and every OOD set with every method of `detector`, on its device.

    `classifier` is the plain n-class model the post-hoc detectors were fitted on; the
    garbage model is `detector.garbage_model`, with n + 1 outputs, garbage last.
    """
    model, n, device = detector.garbage_model, len(detector.class_names), detector.device
    id_scores = detector.score(test_images)
    ood_scores = {name: detector.score(images) for name, images in ood_sets.items()}
    evaluation = method_tables(id_scores, ood_scores, detector.methods)
    evaluation.id_scores, evaluation.ood_scores = id_scores, ood_scores  # for the histograms and accepted inputs
    methods = evaluation.metrics["methods"]
    test_probs = class_probs(model, test_images, device)
    plain_logits = class_probs(classifier, test_images, device)
    evaluation.metrics.update({
        "id_accuracy": {"garbage": float(np.mean(test_probs[:, :n].argmax(1) == test_labels)),
                        "plain": float(np.mean(plain_logits.argmax(1) == test_labels))},
        "id_rejection_rate": {"garbage": float(np.mean(test_probs.argmax(1) == n))},
        "ood_rejection_rate": {name: float(np.mean(class_probs(model, images, device).argmax(1) == n))
                               for name, images in ood_sets.items()},
        "best_method": max(methods, key=lambda m: methods[m]["mean_auroc"]),
        "conventions": CONVENTIONS,
        "ood_sets": {name: len(images) for name, images in ood_sets.items()},
        "num_id_test": len(test_images),
    })
    return evaluation

