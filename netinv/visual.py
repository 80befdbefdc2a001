"""Image grids: where people would rather look than read (per-class samples, overviews)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid


def grid_image(images: np.ndarray, nrow: int = 10, scale: int = 3) -> Image.Image:
    """uint8 (N, C, H, W) -> one PIL image, `nrow` per row, upscaled `scale` times (nearest)."""
    grid = make_grid(torch.from_numpy(images), nrow=nrow, padding=2, pad_value=128)  # (C, H', W')
    array = grid.permute(1, 2, 0).numpy()  # (H', W', C)
    if array.shape[2] == 1:
        array = array[:, :, 0]
    image = Image.fromarray(array)
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def class_overview(images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], per_class: int = 10,
                   title: str | None = None):
    """A matplotlib figure: one row per class, labelled, `per_class` samples each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(class_names)
    fig, axes = plt.subplots(rows, 1, figsize=(per_class * 0.6 + 1.5, rows * 0.7 + 0.6), squeeze=False)
    for c, ax in enumerate(axes[:, 0]):
        chosen = images[labels == c][:per_class]
        if len(chosen):
            ax.imshow(grid_image(chosen, nrow=per_class, scale=1), cmap="gray", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(class_names[c], rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
