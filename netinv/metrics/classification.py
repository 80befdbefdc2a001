"""Accuracy, per-class accuracy and the confusion matrix of a classifier's logits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix


def classification_report(logits: np.ndarray, labels: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """Metrics as JSON-ready values; per-class accuracy is recall, as is usual for balanced sets."""
    predicted = logits.argmax(axis=1)
    n = len(class_names)
    matrix = confusion_matrix(labels, predicted, labels=np.arange(n))
    support = matrix.sum(axis=1)
    per_class = np.divide(np.diag(matrix), support, out=np.zeros(n), where=support > 0)
    return {
        "test_accuracy": float((predicted == labels).mean()),
        "per_class_accuracy": {name: float(acc) for name, acc in zip(class_names, per_class, strict=True)},
        "worst_class": class_names[int(per_class.argmin())],
        "worst_class_accuracy": float(per_class.min()),
        "confusion_matrix": matrix.tolist(),
        "num_test": len(labels),
    }


def plot_confusion(matrix: np.ndarray, class_names: Sequence[str], title: str):
    """A matplotlib Figure of the row-normalised confusion matrix (Agg backend, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    matrix = np.asarray(matrix, dtype=float)
    normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay(normalised, display_labels=list(class_names)).plot(
        ax=ax, values_format=".2f", cmap="Blues", colorbar=False, xticks_rotation=45
    )
    ax.set_title(title)
    fig.tight_layout()
    return fig
