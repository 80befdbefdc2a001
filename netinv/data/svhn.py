"""SVHN cropped digits from the official MATLAB files, with label 10 mapped back to digit 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from netinv.data.errors import DatasetError
from netinv.data.idx import MNIST_CLASSES
from netinv.data.types import DatasetSplits, ImageDataset
from netinv.data.validate import require_dir, validate_images

_FIX = (
    "download train_32x32.mat and test_32x32.mat (format 2, cropped digits) from "
    "http://ufldl.stanford.edu/housenumbers/ into one folder and point the dataset root "
    "at that folder."
)


def _read_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise DatasetError(f"svhn: {path} not found. Fix: {_FIX}", field="root")
    try:
        mat = scipy.io.loadmat(path, variable_names=("X", "y"))
    except Exception as exc:  # scipy raises ValueError, MatReadError, OSError... on bad bytes
        raise DatasetError(
            f"svhn: {path} is corrupt or not a MATLAB file ({exc!r}). Fix: {_FIX}"
        ) from exc
    x, y = mat.get("X"), mat.get("y")
    if x is None or y is None:
        raise DatasetError(f"svhn: {path} lacks the 'X' and/or 'y' variables. Fix: {_FIX}")
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[2] != 3:
        raise DatasetError(
            f"svhn: {path} 'X' has dtype {x.dtype} and shape {x.shape}; expected uint8 "
            f"(32, 32, 3, N). Fix: {_FIX}"
        )
    if not np.issubdtype(y.dtype, np.number) or y.size != x.shape[3]:
        raise DatasetError(
            f"svhn: {path} 'y' has dtype {y.dtype} and shape {y.shape}; expected {x.shape[3]} "
            f"numeric labels. Fix: {_FIX}"
        )
    labels = y.reshape(-1).astype(np.int64)
    labels[labels == 10] = 0  # SVHN stores digit 0 as class 10
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), labels


def _split(path: Path, split: str) -> ImageDataset:
    images, labels = _read_mat(path)
    source = f"svhn {split} ({path})"
    validate_images(images, labels, len(MNIST_CLASSES), source)
    return ImageDataset(images, labels, MNIST_CLASSES, source)


def load_svhn(root: str | Path | None) -> DatasetSplits:
    """SVHN train and test splits (the 'extra' split is deliberately not loaded)."""
    folder = require_dir(root, "svhn", _FIX)
    return DatasetSplits(
        train=_split(folder / "train_32x32.mat", "train"),
        test=_split(folder / "test_32x32.mat", "test"),
    )
