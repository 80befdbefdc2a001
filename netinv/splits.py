"""Train / validation / test splits on disk: the `data/` layout every later stage reads.

A prepared directory holds `train.npz`, `val.npz`, `test.npz` (`images` uint8 N×C×H×W,
`labels` int64) and `meta.json` (class names, image shape, source, per-channel mean/std
of the training split, which the models bake into their first layer).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from netinv.atomic import save_npz, write_json
from netinv.data import DatasetError, ImageDataset

SPLITS = ("train", "val", "test")


def _subset(ds: ImageDataset, index: np.ndarray) -> ImageDataset:
    return ImageDataset(ds.images[index], ds.labels[index], ds.class_names, ds.source)


def stratified_split(ds: ImageDataset, fraction: float, seed: int) -> tuple[ImageDataset, ImageDataset]:
    """Split off `fraction` of `ds`, keeping the class proportions in both parts."""
    keep, held = train_test_split(
        np.arange(len(ds)), test_size=fraction, random_state=seed, stratify=ds.labels
    )
    return _subset(ds, np.sort(keep)), _subset(ds, np.sort(held))


def balanced_limit(ds: ImageDataset, limit: int | None, seed: int) -> ImageDataset:
    """At most `limit` images, drawn evenly across classes (for quick runs and tests)."""
    if limit is None or limit >= len(ds):
        return ds
    _, kept = train_test_split(np.arange(len(ds)), test_size=limit, random_state=seed, stratify=ds.labels)
    return _subset(ds, np.sort(kept))


def first_per_class(labels: np.ndarray, per_class: int, classes: np.ndarray | None = None) -> np.ndarray:
    """Row indices of the first `per_class` images of every class (of `classes`, by default all in
    `labels`), class by class: a fixed real reference, with no seed to record, for comparing
    generated samples with, or for a data prior."""
    wanted = np.unique(labels) if classes is None else np.unique(classes)
    return np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in wanted])


def channel_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images, on the [0, 1] scale the models see."""
    x = images.astype(np.float64) / 255.0
    return x.mean(axis=(0, 2, 3)).tolist(), np.maximum(x.std(axis=(0, 2, 3)), 1e-3).tolist()


@dataclass(frozen=True, eq=False)
class Prepared:
    train: ImageDataset
    val: ImageDataset
    test: ImageDataset
    meta: dict[str, Any]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.meta["image_shape"])

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.meta["class_names"])

    def model_shape(self) -> dict[str, Any]:
        """What a classifier of this data is built with: in_channels, image_size, num_classes, mean, std."""
        channels, height, width = self.image_shape
        return {"in_channels": channels, "image_size": (height, width), "num_classes": len(self.class_names),
                "mean": tuple(self.meta["mean"]), "std": tuple(self.meta["std"])}


def save_prepared(directory: str | Path, train: ImageDataset, val: ImageDataset, test: ImageDataset,
                  meta: dict[str, Any]) -> None:
    directory = Path(directory)
    for name, ds in zip(SPLITS, (train, val, test), strict=True):
        save_npz(directory / f"{name}.npz", images=ds.images, labels=ds.labels.astype(np.int64))
    write_json(directory / "meta.json", meta)


def load_prepared(directory: str | Path) -> Prepared:
    directory = Path(directory)
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        raise DatasetError(f"{meta_path} is missing: {directory} is not a prepared-data folder; "
                           "prepare the data first (netinv.splits.save_prepared) or pass another folder",
                           rebuild=True)
    meta = json.loads(meta_path.read_text())
    names = tuple(meta["class_names"])
    parts = {}
    for split in SPLITS:
        path = directory / f"{split}.npz"
        try:
            with np.load(path, allow_pickle=False) as data:
                parts[split] = ImageDataset(data["images"], data["labels"].astype(np.int64), names, str(path))
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetError(f"{path} is missing or corrupt ({exc}); prepare the data again",
                               rebuild=True) from exc
    return Prepared(meta=meta, **parts)
