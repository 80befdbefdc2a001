"""MNIST-family loaders reading the IDX format directly, so no torchvision download is needed."""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from netinv.data.errors import DatasetError
from netinv.data.types import DatasetSplits, ImageDataset
from netinv.data.validate import require_dir, validate_images

FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
MNIST_CLASSES = tuple(str(d) for d in range(10))

_IMAGES_MAGIC = 0x00000803  # ubyte, 3 dims
_LABELS_MAGIC = 0x00000801  # ubyte, 1 dim
_FILES = {  # split -> (images stem, labels stem)
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_FILE_LIST = ", ".join(f"{stem}.gz" for pair in _FILES.values() for stem in pair)
_FASHION_FIX = (
    "run `sudo apt-get install dataset-fashion-mnist` (files land in "
    f"{FASHION_MNIST_ROOT}), or download the four IDX .gz files ({_FILE_LIST}) from "
    "https://github.com/zalandoresearch/fashion-mnist (folder data/fashion) into a folder "
    "and point the dataset root at that folder."
)
_MNIST_FIX = (
    f"put the four MNIST IDX files ({_FILE_LIST}; gzipped or not) into one folder "
    "and point the dataset root at that folder."
)


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse one (optionally gzipped) IDX file, checking its header against its real size."""
    fix = "the file is truncated or corrupt; re-download it or reinstall its package."
    try:
        raw = path.read_bytes()
        # Sniff instead of trusting the suffix: browsers often store decompressed files as .gz.
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: not a valid gzip file ({exc}); {fix}") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc}); check permissions or {fix}") from exc
    if len(raw) < 4:
        raise DatasetError(f"{path}: only {len(raw)} bytes; {fix}")
    (found,) = struct.unpack(">I", raw[:4])
    if found != magic:
        raise DatasetError(
            f"{path}: IDX magic number 0x{found:08x}, expected 0x{magic:08x}; "
            f"this is not the expected images/labels file or {fix}"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: header cut short ({len(raw)} bytes); {fix}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        raise DatasetError(
            f"{path}: {len(raw)} bytes but its header {dims} implies {expected}; {fix}"
        )
    # Copy: a view into bytes is read-only, which torch.from_numpy warns about downstream.
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _find(root: Path, stem: str, dataset: str, fix: str) -> Path:
    dotted = stem.replace("-idx", ".idx")  # the spelling of some mirrors (Kaggle)
    for name in (stem, f"{stem}.gz", dotted, f"{dotted}.gz"):
        if (root / name).is_file():
            return root / name
    raise DatasetError(f"{dataset}: {root / stem}[.gz] not found. Fix: {fix}", field="root")


def _load_split(
    root: Path, split: str, names: tuple[str, ...], dataset: str, fix: str
) -> ImageDataset:
    img_path = _find(root, _FILES[split][0], dataset, fix)
    lbl_path = _find(root, _FILES[split][1], dataset, fix)
    images = read_idx(img_path, _IMAGES_MAGIC)
    labels = read_idx(lbl_path, _LABELS_MAGIC).astype(np.int64)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            f"{img_path} holds {images.shape[0]} images but {lbl_path} holds {labels.shape[0]} "
            "labels; the pair does not match, re-download both files."
        )
    source = f"{dataset} {split} ({img_path})"
    images = images[:, None]
    validate_images(images, labels, len(names), source)
    return ImageDataset(images, labels, names, source)


def _load(root: str | Path | None, names: tuple[str, ...], dataset: str, fix: str) -> DatasetSplits:
    folder = require_dir(root, dataset, fix)
    return DatasetSplits(
        train=_load_split(folder, "train", names, dataset, fix),
        test=_load_split(folder, "test", names, dataset, fix),
    )


def load_fashion_mnist(root: str | Path | None = None) -> DatasetSplits:
    """Fashion-MNIST; defaults to the Debian package's folder so it works offline."""
    return _load(root or FASHION_MNIST_ROOT, FASHION_CLASSES, "fashion_mnist", _FASHION_FIX)


def load_mnist(root: str | Path | None = None) -> DatasetSplits:
    """MNIST from user-supplied IDX files (no system package ships them)."""
    return _load(root, MNIST_CLASSES, "mnist", _MNIST_FIX)
