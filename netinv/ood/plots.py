"""Figures of the OOD stage: ROC curves per OOD set, and the garbage pool round by round."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from netinv.visual import grid_image


def roc_figure(curves: Mapping[str, Mapping[str, tuple[np.ndarray, np.ndarray]]],
               aurocs: Mapping[str, Mapping[str, float]]):
    """One panel per OOD set, one curve per method: curves[method][ood_set] = (fpr, tpr), OOD positive."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(next(iter(curves.values())))
    fig, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 4.0), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        for method, per_set in curves.items():
            fpr, tpr = per_set[name]
            ax.plot(fpr, tpr, lw=2.2 if method.startswith("garbage") else 1.2,
                    label=f"{method} ({aurocs[method][name]:.3f})")
        ax.plot([0, 1], [0, 1], color="grey", lw=0.6, ls=":")
        ax.set_title(f"OOD set: {name}")
        ax.set_xlabel("ID test inputs flagged OOD (FPR)")
        ax.set_ylabel("OOD inputs flagged OOD (TPR)")
        ax.legend(fontsize=7, loc="lower right", title="method (AUROC)", title_fontsize=7)
    fig.tight_layout()
    return fig


def pool_rounds_figure(images: np.ndarray, rounds: np.ndarray, intended: np.ndarray, num_classes: int,
                       per_class: int = 2, title: str | None = None):
    """One row per round of the garbage pool (row 0: the initial noise), `per_class` samples of each
    intended class: the papers' picture of inverted samples turning from noise into class-like images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    round_ids = sorted(set(rounds.tolist()))
    width = per_class * num_classes
    fig, axes = plt.subplots(len(round_ids), 1, figsize=(width * 0.45 + 1.5, len(round_ids) * 0.55 + 0.6),
                             squeeze=False)
    for ax, r in zip(axes[:, 0], round_ids, strict=True):
        members = np.flatnonzero(rounds == r)
        if r == 0:
            chosen: Sequence[int] = members[:width]
        else:
            chosen = [i for c in range(num_classes) for i in members[intended[members] == c][:per_class]]
        if len(chosen):
            ax.imshow(grid_image(images[np.asarray(chosen)], nrow=width, scale=1), cmap="gray", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel("noise" if r == 0 else f"round {r}", rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
