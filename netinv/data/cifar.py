"""CIFAR-10 from the official python pickles, unpickled with an allow-list so a tampered
download cannot run code."""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from netinv.data.errors import DatasetError
from netinv.data.types import DatasetSplits, ImageDataset
from netinv.data.validate import require_dir, validate_images

try:  # numpy >= 2 moved the internals; resolve them here, never via the pickle's module path
    from numpy._core.multiarray import _reconstruct
    from numpy._core.numeric import _frombuffer
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct
    from numpy.core.numeric import _frombuffer

_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,  # protocol-5 array pickles
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # how python-3 protocol-2 pickles store bytes
    **{("builtins", t.__name__): t for t in (dict, list, str, bytes, int)},
}

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
_SUBDIR = "cifar-10-batches-py"
_FIX = (
    "download the CIFAR-10 python version (cifar-10-python.tar.gz from "
    "https://www.cs.toronto.edu/~kriz/cifar.html), extract it and point the dataset root "
    f"at the extracted {_SUBDIR} folder (or its parent)."
)


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="bytes")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        key = ("builtins" if module == "__builtin__" else module, name)  # python-2 spelling
        try:
            return _ALLOWED[key]
        except KeyError:
            raise DatasetError(
                f"refusing to unpickle {module}.{name} from {self._path}: a CIFAR batch holds "
                f"only arrays, lists and strings. Delete the file and {_FIX}"
            ) from None


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DatasetError(f"cifar10: {path} not found. Fix: {_FIX}", field="root")
    try:
        with path.open("rb") as fh:
            obj = _SafeUnpickler(fh, path).load()
    except DatasetError:
        raise
    except Exception as exc:  # unpickling corrupt bytes can raise almost any type
        raise DatasetError(f"cifar10: {path} is corrupt ({exc!r}). Fix: {_FIX}") from exc
    if not isinstance(obj, dict):
        raise DatasetError(
            f"cifar10: {path} holds a {type(obj).__name__}, not a batch dict. Fix: {_FIX}"
        )
    return obj


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    data, labels = batch.get(b"data"), batch.get(b"labels")
    ok = isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
    if not ok or data.shape[1] != 3072:
        shape, dtype = getattr(data, "shape", None), getattr(data, "dtype", type(data).__name__)
        raise DatasetError(
            f"cifar10: {path} b'data' has dtype {dtype} and shape {shape}; expected uint8 "
            f"(N, 3072). Fix: {_FIX}"
        )
    try:
        labels_arr = np.asarray(labels if labels is not None else [], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DatasetError(
            f"cifar10: {path} b'labels' are not integers ({exc}). Fix: {_FIX}"
        ) from exc
    if labels_arr.shape != (data.shape[0],):
        raise DatasetError(
            f"cifar10: {path} has {data.shape[0]} images but b'labels' has shape "
            f"{labels_arr.shape}. Fix: {_FIX}"
        )
    return data.reshape(-1, 3, 32, 32), labels_arr


def _class_names(folder: Path) -> tuple[str, ...]:
    meta = folder / "batches.meta"
    if not meta.is_file():
        return CIFAR10_CLASSES
    names = _unpickle(meta).get(b"label_names")
    if not isinstance(names, list) or not names:
        raise DatasetError(f"cifar10: {meta} has no b'label_names' list. Fix: {_FIX}")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def _split(
    folder: Path, files: tuple[str, ...], names: tuple[str, ...], split: str
) -> ImageDataset:
    parts = [_read_batch(folder / f) for f in files]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    source = f"cifar10 {split} ({folder})"
    validate_images(images, labels, len(names), source)
    return ImageDataset(images, labels, names, source)


def load_cifar10(root: str | Path | None) -> DatasetSplits:
    """CIFAR-10 train (data_batch_1..5) and test (test_batch) splits."""
    folder = require_dir(root, "cifar10", _FIX)
    if (folder / _SUBDIR).is_dir():
        folder = folder / _SUBDIR
    names = _class_names(folder)
    return DatasetSplits(
        train=_split(folder, _TRAIN_FILES, names, "train"),
        test=_split(folder, ("test_batch",), names, "test"),
    )
