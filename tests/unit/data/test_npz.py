"""User .npz loader: accepted layouts, class names, and the errors users will hit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from netinv.data.errors import DatasetError
from netinv.data.npz import load_npz

RNG = np.random.default_rng(0)


def images(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


def test_nhw_with_class_names(tmp_path: Path) -> None:
    x = images(6, 5, 4)
    path = tmp_path / "d.npz"
    np.savez(
        path, images=x, labels=np.array([0, 1, 2, 0, 1, 2]), class_names=np.array(["a", "b", "c"])
    )
    splits = load_npz(path)
    assert splits.test is None
    assert splits.train.images.shape == (6, 1, 5, 4)
    np.testing.assert_array_equal(splits.train.images[:, 0], x)
    assert splits.train.class_names == ("a", "b", "c")
    assert splits.train.labels.dtype == np.int64


def test_nchw_rgb_without_names(tmp_path: Path) -> None:
    x = images(4, 3, 6, 6)
    np.savez(tmp_path / "d.npz", images=x, labels=np.array([0, 1, 1, 0], dtype=np.uint8))
    splits = load_npz(tmp_path / "d.npz")
    assert splits.train.image_shape == (3, 6, 6)
    np.testing.assert_array_equal(splits.train.images, x)
    assert splits.train.class_names == ("0", "1")


def test_nhwc_is_transposed(tmp_path: Path) -> None:
    x = images(2, 6, 7, 3)
    np.savez(tmp_path / "d.npz", images=x, labels=np.array([0, 0]))
    got = load_npz(tmp_path / "d.npz").train.images
    assert got.shape == (2, 3, 6, 7)
    assert got[1, 2, 4, 5] == x[1, 4, 5, 2]


def test_folder_with_train_and_test(tmp_path: Path) -> None:
    np.savez(tmp_path / "train.npz", images=images(6, 4, 4), labels=np.arange(6) % 3)
    np.savez(tmp_path / "test.npz", images=images(2, 4, 4), labels=np.array([0, 2]))
    splits = load_npz(tmp_path)
    assert splits.test is not None and len(splits.test) == 2
    assert splits.train.class_names == splits.test.class_names == ("0", "1", "2")


def test_float_images_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", images=np.zeros((2, 4, 4), np.float32), labels=np.array([0, 0]))
    with pytest.raises(
        DatasetError, match=r"d\.npz.*dtype float32; convert them to uint8 with values 0\.\.255"
    ):
        load_npz(tmp_path / "d.npz")


def test_label_out_of_range(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "d.npz",
        images=images(3, 4, 4),
        labels=np.array([0, 1, 2]),
        class_names=np.array(["a", "b"]),
    )
    with pytest.raises(
        DatasetError, match=r"d\.npz.*1 labels outside \[0, 2\) \(e\.g\. 2 at index 2\)"
    ):
        load_npz(tmp_path / "d.npz")


def test_negative_label(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", images=images(2, 4, 4), labels=np.array([0, -1]))
    with pytest.raises(DatasetError, match=r"labels outside"):
        load_npz(tmp_path / "d.npz")


def test_gap_in_labels_is_an_empty_class(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", images=images(2, 4, 4), labels=np.array([0, 2]))
    with pytest.raises(DatasetError, match=r"classes \[1\] have no images"):
        load_npz(tmp_path / "d.npz")


def test_object_class_names_refused_without_pickle(tmp_path: Path) -> None:
    names = np.array(["a", None], dtype=object)
    np.savez(tmp_path / "d.npz", images=images(2, 4, 4), labels=np.array([0, 1]), class_names=names)
    with pytest.raises(DatasetError, match=r"d\.npz cannot be read without pickle"):
        load_npz(tmp_path / "d.npz")


def test_missing_key_and_corrupt_file(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=images(2, 4, 4), labels=np.array([0, 1]))
    with pytest.raises(
        DatasetError, match=r"d\.npz lacks \['images'\] \(it holds \['labels', 'x'\]\)"
    ):
        load_npz(tmp_path / "d.npz")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DatasetError, match=r"bad\.npz is corrupt or not a \.npz file"):
        load_npz(tmp_path / "bad.npz")


def test_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"train\.npz not found"):
        load_npz(tmp_path)
    with pytest.raises(DatasetError, match=r"nope\.npz does not exist.*dataset root"):
        load_npz(tmp_path / "nope.npz")
    with pytest.raises(DatasetError, match=r"dataset root is not set"):
        load_npz(None)


def test_test_split_may_miss_a_class_but_names_must_agree(tmp_path: Path) -> None:
    np.savez(
        tmp_path / "train.npz",
        images=images(2, 4, 4),
        labels=np.array([0, 1]),
        class_names=np.array(["a", "b"]),
    )
    np.savez(tmp_path / "test.npz", images=images(1, 4, 4), labels=np.array([1]))
    splits = load_npz(tmp_path)
    assert splits.test is not None and splits.test.class_names == ("a", "b")
    np.savez(
        tmp_path / "test.npz",
        images=images(1, 4, 4),
        labels=np.array([1]),
        class_names=np.array(["x", "y"]),
    )
    with pytest.raises(DatasetError, match=r"class_names differ between"):
        load_npz(tmp_path)
