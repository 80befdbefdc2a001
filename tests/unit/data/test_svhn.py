"""SVHN .mat loader: layout transpose and the label-10-is-zero convention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from netinv.data.errors import DatasetError
from netinv.data.svhn import load_svhn


def write_mat(path: Path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n) % 10 + 1).astype(np.uint8)[:, None]  # 1..10, as in the real files
    scipy.io.savemat(path, {"X": x, "y": y})
    return x, y


@pytest.fixture
def svhn_dir(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    x, y = write_mat(tmp_path / "train_32x32.mat", 20, 0)
    write_mat(tmp_path / "test_32x32.mat", 10, 1)
    return tmp_path, x, y


def test_loads_and_maps_label_10_to_0(svhn_dir: tuple[Path, np.ndarray, np.ndarray]) -> None:
    root, x, y = svhn_dir
    splits = load_svhn(root)
    train = splits.train
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == np.uint8
    assert train.images[5, 2, 7, 9] == x[7, 9, 2, 5]
    np.testing.assert_array_equal(train.images[3], x[..., 3].transpose(2, 0, 1))
    assert y[9, 0] == 10 and train.labels[9] == 0
    np.testing.assert_array_equal(train.labels[:10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 0])
    assert train.labels.dtype == np.int64
    assert train.class_names == tuple("0123456789")
    assert splits.test is not None and len(splits.test) == 10


def test_corrupt_mat(svhn_dir: tuple[Path, np.ndarray, np.ndarray]) -> None:
    root = svhn_dir[0]
    (root / "test_32x32.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    with pytest.raises(
        DatasetError, match=r"test_32x32\.mat is corrupt or not a MATLAB file.*ufldl"
    ):
        load_svhn(root)


def test_missing_variable(svhn_dir: tuple[Path, np.ndarray, np.ndarray]) -> None:
    root = svhn_dir[0]
    scipy.io.savemat(root / "train_32x32.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8)})
    with pytest.raises(DatasetError, match=r"train_32x32\.mat lacks the 'X' and/or 'y'"):
        load_svhn(root)


def test_wrong_image_dtype(svhn_dir: tuple[Path, np.ndarray, np.ndarray]) -> None:
    root = svhn_dir[0]
    scipy.io.savemat(
        root / "train_32x32.mat", {"X": np.zeros((32, 32, 3, 2)), "y": np.ones((2, 1))}
    )
    with pytest.raises(DatasetError, match=r"'X' has dtype float64"):
        load_svhn(root)


def test_missing_file(tmp_path: Path) -> None:
    write_mat(tmp_path / "train_32x32.mat", 10, 0)
    with pytest.raises(DatasetError, match=r"test_32x32\.mat not found.*dataset root"):
        load_svhn(tmp_path)
