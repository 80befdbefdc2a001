"""Checks every loader runs on its result, so a bad dataset fails at load time with a fix,
not later inside training with an opaque shape or index error."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from netinv.data.errors import DatasetError

_CHANNELS = (1, 3)


def validate_images(
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    source: str,
    require_all_classes: bool = True,
) -> None:
    """Raise DatasetError unless images/labels satisfy the ImageDataset contract."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        dtype = getattr(images, "dtype", type(images).__name__)
        raise DatasetError(f"{source}: images have dtype {dtype}; convert them to uint8 (0..255).")
    if images.ndim != 4 or images.shape[1] not in _CHANNELS:
        raise DatasetError(
            f"{source}: images have shape {images.shape}; expected N×C×H×W with C in {_CHANNELS}."
        )
    if images.shape[0] == 0:
        raise DatasetError(f"{source}: contains no images; add at least one image per class.")
    if not isinstance(labels, np.ndarray) or not np.issubdtype(labels.dtype, np.integer):
        dtype = getattr(labels, "dtype", type(labels).__name__)
        raise DatasetError(f"{source}: labels have dtype {dtype}; store them as integers.")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DatasetError(
            f"{source}: labels have shape {labels.shape} but there are {images.shape[0]} images; "
            "store exactly one integer label per image (a 1-D array)."
        )
    if num_classes < 1:
        raise DatasetError(f"{source}: no classes defined; give at least one class name.")
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise DatasetError(
            f"{source}: {int(bad.sum())} labels outside [0, {num_classes}) "
            f"(e.g. {labels[bad][0]} at index {int(np.flatnonzero(bad)[0])}); "
            f"labels must be class indices 0..{num_classes - 1}."
        )
    if require_all_classes:
        counts = np.bincount(labels, minlength=num_classes)
        empty = np.flatnonzero(counts == 0).tolist()
        if empty:
            raise DatasetError(
                f"{source}: classes {empty} have no images; add images for them "
                "or remove those classes and renumber the labels."
            )


def to_nchw_uint8(images: np.ndarray, source: str) -> np.ndarray:
    """Accept the common user layouts (N×H×W, N×C×H×W, N×H×W×C) and return N×C×H×W.

    Channels-first wins when both axes could be channels, matching the documented layout.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        dtype = getattr(images, "dtype", type(images).__name__)
        raise DatasetError(
            f"{source}: images have dtype {dtype}; convert them to uint8 with values 0..255 "
            "(e.g. (x * 255).round().clip(0, 255).astype(np.uint8) for floats in 0..1)."
        )
    if images.ndim == 3:
        return np.ascontiguousarray(images[:, None])
    if images.ndim == 4 and images.shape[1] in _CHANNELS:
        return np.ascontiguousarray(images)
    if images.ndim == 4 and images.shape[3] in _CHANNELS:
        return np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    raise DatasetError(
        f"{source}: images have shape {images.shape}; expected N×H×W, N×C×H×W or N×H×W×C "
        f"with C in {_CHANNELS}."
    )


def require_dir(root: str | Path | None, dataset: str, fix: str) -> Path:
    """Resolve a loader's root folder, failing with the dataset-specific fix when it is absent."""
    if root is None:
        raise DatasetError(f"{dataset}: no data folder given (the dataset root is not set). Fix: {fix}",
                           field="root")
    path = Path(root).expanduser()
    if not path.exists():
        raise DatasetError(f"{dataset}: data folder {path} does not exist. Fix: {fix}", field="root")
    if not path.is_dir():
        raise DatasetError(f"{dataset}: {path} is not a folder. Fix: {fix}", field="root")
    return path
