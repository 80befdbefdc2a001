"""Figures of the OOD stage: ROC curves per OOD set, the garbage pool round by round, the score
histograms of real and OOD inputs, and the OOD inputs a method accepts most confidently."""

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


def id_threshold(id_scores: np.ndarray, keep: float = 0.95) -> float:
    """The score below which `keep` of the ID inputs fall: the threshold FPR95 is read at."""
    return float(np.quantile(np.asarray(id_scores, dtype=np.float64), keep))


def score_histograms_figure(id_scores: Mapping[str, np.ndarray], ood_scores: Mapping[str, Mapping[str, np.ndarray]],
                            methods: Sequence[str] | None = None, bins: int = 60, columns: int = 4):
    """One panel per method: the score distribution of the ID test inputs and of each OOD set
    (ood_scores[ood_set][method], higher = more OOD), with the threshold that keeps 95% of ID inputs
    dashed: OOD mass left of it is what FPR95 counts as accepted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(methods or id_scores)
    rows = -(-len(methods) // columns)
    fig, axes = plt.subplots(rows, min(columns, len(methods)), figsize=(3.4 * min(columns, len(methods)), 2.6 * rows),
                             squeeze=False)
    for ax, method in zip(axes.flat, methods, strict=False):
        real = np.asarray(id_scores[method], dtype=np.float64)
        every = np.concatenate([real, *(np.asarray(s[method], dtype=np.float64) for s in ood_scores.values())])
        finite = every[np.isfinite(every)]
        edges = np.histogram_bin_edges(finite, bins=bins) if len(finite) else bins
        ax.hist(real[np.isfinite(real)], bins=edges, density=True, histtype="stepfilled", alpha=0.35,
                color="grey", label="ID test")
        for name, scores in ood_scores.items():
            values = np.asarray(scores[method], dtype=np.float64)
            ax.hist(values[np.isfinite(values)], bins=edges, density=True, histtype="step", lw=1.3, label=name)
        ax.axvline(id_threshold(real), color="black", ls="--", lw=0.9)
        ax.set_title(method, fontsize=9)
        ax.set_yscale("log")
        ax.tick_params(labelsize=7)
        ax.set_xlabel("OOD score (higher = more OOD)", fontsize=7)
    for ax in axes.flat[len(methods):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="upper center")
    fig.suptitle("scores of ID test inputs and OOD sets; dashed: the threshold keeping 95% of ID inputs", fontsize=9)
    fig.tight_layout()
    return fig


def accepted_ood_figure(ood_images: Mapping[str, np.ndarray], ood_scores: Mapping[str, np.ndarray],
                        id_scores: np.ndarray, method: str, per_set: int = 12):
    """One row per OOD set: its `per_set` inputs with the lowest `method` score, the ones the detector
    takes most confidently for in-distribution, each titled with its score; the row label says
    which share of the set falls below the threshold that keeps 95% of ID inputs (accepted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threshold = id_threshold(id_scores)
    names = list(ood_images)
    fig, axes = plt.subplots(len(names), per_set, figsize=(per_set * 0.75 + 1.4, len(names) * 0.95 + 0.5),
                             squeeze=False)
    for row, name in zip(axes, names, strict=True):
        images, scores = ood_images[name], np.asarray(ood_scores[name], dtype=np.float64)
        chosen = np.argsort(scores, kind="stable")[:per_set]
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        for ax, i in zip(row, chosen, strict=False):
            image = images[i]
            shown = image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))
            ax.imshow(shown, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(f"{scores[i]:.3g}", fontsize=6, pad=2)
        row[0].set_ylabel(f"{name}\n{np.mean(scores <= threshold):.0%} accepted", rotation=0, ha="right",
                          va="center", fontsize=8)
    fig.suptitle(f"OOD inputs {method} accepts most confidently (lowest score; threshold {threshold:.3g})",
                 fontsize=9)
    fig.tight_layout()
    return fig
