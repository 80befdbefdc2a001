"""Figures of the leakage audit: reconstructions beside their nearest training and control images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pairs_figure(recons: np.ndarray, recon_labels: np.ndarray, train_images: np.ndarray, train_index: np.ndarray,
                 train_ssim: np.ndarray, control_images: np.ndarray, control_index: np.ndarray,
                 control_ssim: np.ndarray, class_names: Sequence[str], per_class: int = 2, title: str = ""):
    """One row per class: `per_class` triplets (reconstruction | nearest training | nearest control).

    The reconstructions shown are those of the class closest to a training image (the best
    evidence of leakage), each with both SSIMs, so the control's answer is always beside it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = np.unique(recon_labels)
    cols = 3 * per_class
    fig, axes = plt.subplots(len(classes), cols, figsize=(cols * 0.95 + 1.2, len(classes) * 1.05 + 0.8),
                             squeeze=False)
    for row, c in enumerate(classes):
        members = np.flatnonzero(recon_labels == c)
        chosen = members[np.argsort(-train_ssim[members])][:per_class]
        for k in range(per_class):
            trio = axes[row, 3 * k : 3 * k + 3]
            for ax in trio:
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
            if k >= len(chosen):
                continue
            i = chosen[k]
            panels = [(recons[i], "recon"), (train_images[train_index[i]], f"train {train_ssim[i]:.2f}"),
                      (control_images[control_index[i]], f"control {control_ssim[i]:.2f}")]
            for ax, (image, caption) in zip(trio, panels, strict=True):
                ax.imshow(np.moveaxis(image, 0, -1).squeeze(), cmap="gray", vmin=0, vmax=255)
                ax.set_title(caption, fontsize=6, pad=2)
        axes[row, 0].set_ylabel(class_names[c], rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title or "reconstruction | nearest training image | nearest control image (SSIM)", fontsize=8)
    fig.tight_layout()
    return fig


def leakage_figure(rows: Sequence[dict]):
    """SSIM to the nearest training vs control image, and the gap with its 95% interval, against size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: r["size"])
    sizes = [r["size"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(sizes, [r["ssim_train_mean"] for r in rows], "o-", label="nearest training image")
    left.plot(sizes, [r["ssim_control_mean"] for r in rows], "s--", label="nearest control image")
    left.set(xscale="log", xlabel="training-set size", ylabel="mean best SSIM", title="similarity")
    left.legend(fontsize=8)
    gaps = np.array([r["leakage_gap"] for r in rows])
    err = np.array([[g - r["gap_ci_low"] for g, r in zip(gaps, rows, strict=True)],
                    [r["gap_ci_high"] - g for g, r in zip(gaps, rows, strict=True)]])
    right.errorbar(sizes, gaps, yerr=err, fmt="o-", capsize=4, label="leakage gap (95% CI)")
    right.plot(sizes, [r["matched_frac_train"] - r["matched_frac_control"] for r in rows], "^:",
               label="recovered: train minus control")
    right.axhline(0.0, color="grey", lw=0.8)
    right.set(xscale="log", xlabel="training-set size", ylabel="train minus control", title="leakage")
    right.legend(fontsize=8)
    for ax in (left, right):  # sizes span decades (100, 1,000, 10,000): a log axis, ticked at the sizes
        ax.set_xticks(sizes, [f"{size:,}" for size in sizes])
        ax.minorticks_off()
    fig.tight_layout()
    return fig


def recovery_figure(recons: np.ndarray, train_images: np.ndarray, train_ssim: np.ndarray, train_recon: np.ndarray,
                    control_images: np.ndarray, control_ssim: np.ndarray, control_recon: np.ndarray,
                    rows: int = 12, title: str = ""):
    """Rows of (reconstruction | nearest training image | nearest control image), sorted by SSIM.

    `train_ssim` / `train_recon`: per training image, its best SSIM and reconstruction
    (netinv.reconstruction.recovery); the same for the control. Each row takes the
    reconstruction best matched to a training image, in falling order, and shows beside it
    the control image that reconstruction matches best, with both SSIMs: a row whose control
    SSIM is as high as its training SSIM is not leakage.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = [i for i in np.argsort(-np.nan_to_num(train_ssim, nan=-2.0)) if train_recon[i] >= 0][:rows]
    fig, axes = plt.subplots(max(1, len(order)), 3, figsize=(3.6, 1.15 * max(1, len(order)) + 0.6), squeeze=False)
    for row, i in enumerate(order):
        r = train_recon[i]
        by_control = np.flatnonzero(control_recon == r)  # control images whose best reconstruction is r
        j = by_control[np.argmax(control_ssim[by_control])] if len(by_control) else int(np.nanargmax(control_ssim))
        panels = [(recons[r], "reconstruction"), (train_images[i], f"train {train_ssim[i]:.2f}"),
                  (control_images[j], f"control {control_ssim[j]:.2f}")]
        for ax, (image, caption) in zip(axes[row], panels, strict=True):
            ax.imshow(np.moveaxis(image, 0, -1).squeeze(), cmap="gray", vmin=0, vmax=255)
            ax.set_title(caption, fontsize=6, pad=2)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title or "reconstruction | nearest training | nearest control (SSIM)", fontsize=7, wrap=True)
    fig.tight_layout()
    return fig
