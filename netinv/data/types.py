"""In-memory dataset containers shared by every loader, so later stages see one layout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(
    frozen=True, eq=False
)  # eq=False: element-wise array comparison has no single truth value
class ImageDataset:
    """Images as uint8 N×C×H×W (C in {1, 3}) with int64 labels in [0, len(class_names))."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    source: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        _, c, h, w = self.images.shape
        return (int(c), int(h), int(w))

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True, eq=False)
class DatasetSplits:
    """The official splits of a source; test is None when the source has no held-out split."""

    train: ImageDataset
    test: ImageDataset | None
