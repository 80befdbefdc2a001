"""User-supplied arrays in .npz files: the escape hatch for any dataset we have no loader for."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from netinv.data.errors import DatasetError
from netinv.data.types import DatasetSplits, ImageDataset
from netinv.data.validate import to_nchw_uint8, validate_images

_Read = tuple[np.ndarray, np.ndarray, tuple[str, ...] | None]  # images, labels, class names
_FIX = (
    "point the dataset root at a .npz file (or a folder with train.npz and optional "
    "test.npz) saved as np.savez(path, images=uint8 N×H×W or N×C×H×W, labels=int N, "
    "class_names=np.array([...], dtype=str))."
)


def read_npz(path: Path, fix: str, required: tuple[str, ...], optional: tuple[str, ...] = (),
             prefix: str = "npz: ") -> dict[str, np.ndarray]:
    """The arrays `required` (and those of `optional` it has) of the .npz file at `path`.

    Every way the file is not a .npz of plain arrays is a DatasetError that names it and
    says `fix`: a single array saved with np.save (.npy), a truncated or foreign file,
    pickled objects, a missing array. Shared by every reader of user .npz files.
    """
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
        if not magic.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):  # zip (.npz) or .npy
            raise OSError(f"starts with {magic!r}, neither a zip (.npz) nor a .npy file")
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DatasetError(
                f"{prefix}{path} holds a single array (np.save, shape {getattr(loaded, 'shape', '?')}), not a .npz "
                f"file of named arrays ({', '.join(required)}). Fix: {fix}")
        with loaded as npz:
            missing = set(required) - set(npz.files)
            if missing:
                raise DatasetError(f"{prefix}{path} lacks {sorted(missing)} (it holds {sorted(npz.files)}). Fix: {fix}")
            return {k: npz[k] for k in (*required, *optional) if k in npz.files}
    except DatasetError:
        raise
    except ValueError as exc:  # includes object arrays refused by allow_pickle=False
        raise DatasetError(f"{prefix}{path} cannot be read without pickle ({exc}); store plain numeric arrays "
                           f"and class_names as a str array. Fix: {fix}") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DatasetError(f"{prefix}{path} is corrupt or not a .npz file ({exc}). Fix: {fix}") from exc


def _read(path: Path) -> _Read:
    arrays = read_npz(path, _FIX, ("images", "labels"), ("class_names",))
    images, labels, names = arrays["images"], arrays["labels"], arrays.get("class_names")
    source = f"npz ({path})"
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{source}: labels have dtype {labels.dtype}; store them as integers.")
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if names is not None and (names.ndim != 1 or names.dtype.kind not in "US"):
        raise DatasetError(
            f"{source}: class_names has dtype {names.dtype} and shape {names.shape}; "
            "store a 1-D str array, e.g. np.array(['cat', 'dog'], dtype=str)."
        )
    class_names = (
        None
        if names is None
        else tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist())
    )
    return to_nchw_uint8(images, source), labels.astype(np.int64), class_names


def _class_names(reads: dict[Path, _Read]) -> tuple[str, ...]:
    """Given names must agree across files; without any, use "0".."K-1" for the top label."""
    given = {p: r[2] for p, r in reads.items() if r[2] is not None}
    if len(set(given.values())) > 1:
        raise DatasetError(
            f"npz: class_names differ between {sorted(map(str, given))}; save the same list in both."
        )
    if given:
        return next(iter(given.values()))
    top = max(int(r[1].max(initial=-1)) for r in reads.values())
    return tuple(str(i) for i in range(top + 1))


def _dataset(path: Path, read: _Read, names: tuple[str, ...], require_all: bool) -> ImageDataset:
    images, labels, _ = read
    source = f"npz ({path})"
    validate_images(images, labels, len(names), source, require_all_classes=require_all)
    return ImageDataset(images, labels, names, source)


def load_npz(root: str | Path | None) -> DatasetSplits:
    """One .npz (train only) or a folder with train.npz and optional test.npz."""
    if root is None:
        raise DatasetError(f"npz: no data file given (the dataset root is not set). Fix: {_FIX}", field="root")
    path = Path(root).expanduser()
    if path.is_dir():
        train, test = path / "train.npz", path / "test.npz"
        if not train.is_file():
            raise DatasetError(f"npz: {train} not found. Fix: {_FIX}", field="root")
    elif path.is_file():
        train, test = path, None
    else:
        raise DatasetError(f"npz: {path} does not exist. Fix: {_FIX}", field="root")
    reads = {p: _read(p) for p in (train, test) if p is not None and p.is_file()}
    names = _class_names(reads)
    return DatasetSplits(
        train=_dataset(train, reads[train], names, True),
        # A held-out split may legitimately miss rare classes, so only train must cover all.
        test=_dataset(test, reads[test], names, False) if test in reads else None,
    )
