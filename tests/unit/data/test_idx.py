"""IDX (MNIST / Fashion-MNIST) loader, on tiny files written in the real format."""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from netinv.data.errors import DatasetError
from netinv.data.idx import FASHION_CLASSES, FASHION_MNIST_ROOT, load_fashion_mnist, load_mnist

IMAGES, LABELS = 0x00000803, 0x00000801


def write_idx(
    path: Path, array: np.ndarray, magic: int, gz: bool, count: int | None = None
) -> Path:
    dims = list(array.shape)
    if count is not None:
        dims[0] = count
    raw = struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + array.tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


def make_split(
    root: Path, prefix: str, n: int, gz: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    write_idx(root / f"{prefix}-images-idx3-ubyte", images, IMAGES, gz)
    write_idx(root / f"{prefix}-labels-idx1-ubyte", labels, LABELS, gz)
    return images, labels


@pytest.fixture(params=[True, False], ids=["gz", "raw"])
def idx_dir(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, np.ndarray, np.ndarray]:
    images, labels = make_split(tmp_path, "train", 30, request.param, 0)
    make_split(tmp_path, "t10k", 20, request.param, 1)
    return tmp_path, images, labels


def test_loads_train_and_test(idx_dir: tuple[Path, np.ndarray, np.ndarray]) -> None:
    root, images, labels = idx_dir
    splits = load_fashion_mnist(root)
    assert splits.train.images.shape == (30, 1, 28, 28)
    assert splits.train.images.dtype == np.uint8
    assert splits.train.labels.dtype == np.int64
    np.testing.assert_array_equal(splits.train.images[:, 0], images)
    np.testing.assert_array_equal(splits.train.labels, labels)
    assert splits.test is not None and len(splits.test) == 20
    assert splits.train.class_names == FASHION_CLASSES
    assert splits.train.class_names[0] == "T-shirt/top"
    assert splits.train.images.flags.writeable


def test_mnist_has_digit_names(idx_dir: tuple[Path, np.ndarray, np.ndarray]) -> None:
    splits = load_mnist(str(idx_dir[0]))
    assert splits.train.class_names == tuple("0123456789")


def test_mislabelled_gz_that_is_raw_still_loads(tmp_path: Path) -> None:
    """Browsers often save the decompressed bytes under the .gz name."""
    make_split(tmp_path, "train", 10, False, 0)
    make_split(tmp_path, "t10k", 10, False, 1)
    for p in list(tmp_path.iterdir()):
        p.rename(p.with_name(p.name + ".gz"))
    assert len(load_mnist(tmp_path).train) == 10


def test_truncated_file_is_named(tmp_path: Path) -> None:
    make_split(tmp_path, "t10k", 10, True, 1)
    images = np.zeros((10, 28, 28), np.uint8)
    labels = (np.arange(10) % 10).astype(np.uint8)
    bad = write_idx(tmp_path / "train-images-idx3-ubyte", images[:-1], IMAGES, False, count=10)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, LABELS, False)
    with pytest.raises(
        DatasetError, match=re.escape(str(bad)) + ".*truncated or corrupt.*re-download"
    ):
        load_fashion_mnist(tmp_path)


def test_wrong_magic_number(tmp_path: Path) -> None:
    make_split(tmp_path, "t10k", 10, True, 1)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((10, 28, 28), np.uint8), IMAGES, True)
    labels = (np.arange(10) % 10).astype(np.uint8)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, 0x00000803, True)
    with pytest.raises(
        DatasetError,
        match=r"train-labels-idx1-ubyte\.gz: IDX magic number 0x00000803, expected 0x00000801",
    ):
        load_fashion_mnist(tmp_path)


def test_image_label_count_mismatch(tmp_path: Path) -> None:
    make_split(tmp_path, "train", 10, True, 0)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((12, 28, 28), np.uint8), IMAGES, True)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(11, np.uint8), LABELS, True)
    with pytest.raises(DatasetError, match=r"holds 12 images but .*t10k-labels.* holds 11 labels"):
        load_fashion_mnist(tmp_path)


def test_missing_dir_names_path_and_package(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetError) as info:
        load_fashion_mnist(missing)
    assert str(missing) in str(info.value)
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
    assert "point the dataset root at" in str(info.value) and info.value.field == "root"


def test_missing_file_is_named(idx_dir: tuple[Path, np.ndarray, np.ndarray]) -> None:
    root = idx_dir[0]
    for p in root.glob("t10k-labels*"):
        p.unlink()
    with pytest.raises(DatasetError, match=r"t10k-labels-idx1-ubyte\[\.gz\] not found.*dataset root"):
        load_mnist(root)


def test_mnist_without_root_says_set_the_root() -> None:
    with pytest.raises(DatasetError, match=r"mnist: no data folder.*dataset root") as info:
        load_mnist(None)
    assert info.value.field == "root"


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_gzip_is_named(tmp_path: Path, damage: str) -> None:
    make_split(tmp_path, "train", 10, True, 0)
    make_split(tmp_path, "t10k", 10, True, 1)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[-8] ^= 0xFF  # corrupt the CRC trailer
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=re.escape(str(path)) + ": not a valid gzip file"):
        load_fashion_mnist(tmp_path)


@pytest.mark.skipif(
    not FASHION_MNIST_ROOT.is_dir(),
    reason=f"{FASHION_MNIST_ROOT} missing: `sudo apt-get install dataset-fashion-mnist`",
)
def test_real_fashion_mnist() -> None:
    splits = load_fashion_mnist()
    assert splits.test is not None
    assert (len(splits.train), len(splits.test)) == (60000, 10000)
    assert splits.train.image_shape == (1, 28, 28)
    assert splits.train.num_classes == 10
    np.testing.assert_array_equal(np.bincount(splits.train.labels), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(splits.test.labels), [1000] * 10)
    assert splits.train.images.max() == 255
