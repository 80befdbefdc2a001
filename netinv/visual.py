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


def beside_real(generated: np.ndarray, real: np.ndarray, per_row: int = 8, real_per_row: int = 3) -> np.ndarray:
    """Rows of `per_row` generated images, a grey separator tile, then `real_per_row` real images of
    the same class (different ones on every row): what the model makes, next to what it was shown.
    Returns the tiles in order (N', C, H, W) for `grid_image(..., nrow=per_row + 1 + real_per_row)`."""
    rows = -(-len(generated) // per_row)
    blank = np.full_like(generated[:1], 128)
    tiles = []
    for r in range(rows):
        chunk = generated[r * per_row : (r + 1) * per_row]
        chunk = np.concatenate([chunk, np.repeat(blank, per_row - len(chunk), axis=0)])
        shown = real[(np.arange(real_per_row) + r * real_per_row) % len(real)] if len(real) else \
            np.repeat(blank, real_per_row, axis=0)
        tiles += [chunk, blank, shown]
    return np.concatenate(tiles)


def class_overview(images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], per_class: int = 10,
                   title: str | None = None, real_images: np.ndarray | None = None,
                   real_labels: np.ndarray | None = None, real_per_class: int = 4):
    """A matplotlib figure: one row per class, labelled, `per_class` samples each, followed (when
    given) by `real_per_class` real images of that class after a grey separator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(class_names)
    columns = per_class + (1 + real_per_class if real_images is not None else 0)
    fig, axes = plt.subplots(rows, 1, figsize=(columns * 0.6 + 1.5, rows * 0.7 + 0.6), squeeze=False)
    for c, ax in enumerate(axes[:, 0]):
        chosen = images[labels == c][:per_class]
        if len(chosen) and real_images is not None and real_labels is not None:
            tiles = beside_real(chosen, real_images[real_labels == c], per_class, real_per_class)
            ax.imshow(grid_image(tiles, nrow=per_class + 1 + real_per_class, scale=1), cmap="gray", vmin=0, vmax=255)
        elif len(chosen):
            ax.imshow(grid_image(chosen, nrow=per_class, scale=1), cmap="gray", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(class_names[c], rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
