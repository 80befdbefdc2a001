"""Image files sorted into one sub-folder per class, the layout most users already have."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from netinv.data.errors import DatasetError
from netinv.data.types import DatasetSplits, ImageDataset
from netinv.data.validate import require_dir, validate_images

EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif"})
_FIX = (
    "point the dataset root at a folder with one sub-folder of images per class "
    "(png/jpg/jpeg/bmp/gif, all the same size), or with train/<class>/ and test/<class>/."
)


def _visible(entries: list[Path]) -> list[Path]:
    return sorted(p for p in entries if not p.name.startswith("."))


def _read_image(path: Path) -> np.ndarray:
    """H×W for grayscale content, H×W×3 for colour; palette images count as grey if they are."""
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                raise DatasetError(
                    f"folder: {path} is a {mode} (16-bit/float) image; save it as 8-bit."
                )
            arr = np.asarray(im.convert("L" if mode in ("1", "L", "LA") else "RGB"))
    except DatasetError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(
            f"folder: cannot read image {path} ({exc}); replace or delete it."
        ) from exc
    if mode == "P" and (arr == arr[..., :1]).all():
        return arr[..., 0].copy()
    return arr


def _class_files(folder: Path) -> dict[str, list[Path]]:
    classes = [d for d in _visible(list(folder.iterdir())) if d.is_dir()]
    if not classes:
        raise DatasetError(f"folder: {folder} has no class sub-folders. Fix: {_FIX}", field="root")
    files = {}
    for d in classes:
        images = [p for p in _visible(list(d.iterdir())) if p.suffix.lower() in EXTENSIONS]
        if not images:
            raise DatasetError(
                f"folder: class folder {d} holds no images ({', '.join(sorted(EXTENSIONS))}); "
                "add images or delete the folder."
            )
        files[d.name] = images
    return files


def _stack(arrays: list[np.ndarray], gray: bool) -> np.ndarray:
    if gray:
        return np.stack(arrays)[:, None]
    rgb = [a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2) for a in arrays]
    return np.stack(rgb).transpose(0, 3, 1, 2).copy()


def _load_tree(
    splits: dict[str, Path],
) -> tuple[tuple[str, ...], dict[str, tuple[list[np.ndarray], list[int]]]]:
    """Read every split so size and channel count are decided once, across all splits."""
    trees = {name: _class_files(folder) for name, folder in splits.items()}
    class_names = tuple(trees["train"])
    loaded: dict[str, tuple[list[np.ndarray], list[int]]] = {}
    expected: tuple[tuple[int, int], Path] | None = None
    for split, tree in trees.items():
        unknown = sorted(set(tree) - set(class_names))
        if unknown:
            raise DatasetError(
                f"folder: {splits[split]} has classes {unknown} missing from {splits['train']}; "
                "every test class needs a train folder of the same name."
            )
        arrays, labels = [], []
        for cls, files in tree.items():
            for path in files:
                arr = _read_image(path)
                if expected is None:
                    expected = (arr.shape[:2], path)
                if arr.shape[:2] != expected[0]:
                    raise DatasetError(
                        f"folder: {path} is {arr.shape[1]}×{arr.shape[0]} (W×H) but {expected[1]} "
                        f"is {expected[0][1]}×{expected[0][0]}; resize all images to one size."
                    )
                arrays.append(arr)
                labels.append(class_names.index(cls))
        loaded[split] = (arrays, labels)
    return class_names, loaded


def load_folder(root: str | Path | None) -> DatasetSplits:
    """Class sub-folders under root, or under root/train and root/test."""
    folder = require_dir(root, "folder", _FIX)
    splits = {"train": folder}
    if (folder / "train").is_dir():
        splits = {"train": folder / "train"}
        if (folder / "test").is_dir():
            splits["test"] = folder / "test"
    class_names, loaded = _load_tree(splits)
    gray = all(a.ndim == 2 for arrays, _ in loaded.values() for a in arrays)
    result: dict[str, ImageDataset] = {}
    for split, (arrays, labels) in loaded.items():
        images = _stack(arrays, gray)
        labels_arr = np.asarray(labels, dtype=np.int64)
        source = f"folder {split} ({splits[split]})"
        # A held-out split may legitimately miss rare classes, so only train must cover all.
        validate_images(images, labels_arr, len(class_names), source, split == "train")
        result[split] = ImageDataset(images, labels_arr, class_names, source)
    return DatasetSplits(train=result["train"], test=result.get("test"))
