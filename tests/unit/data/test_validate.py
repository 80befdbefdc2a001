"""The shared contract checks and the layout normaliser for user arrays."""

from __future__ import annotations

import numpy as np
import pytest

from netinv.data.errors import DatasetError
from netinv.data.types import ImageDataset
from netinv.data.validate import require_dir, to_nchw_uint8, validate_images

X = np.zeros((4, 1, 3, 3), np.uint8)
Y = np.array([0, 1, 2, 0], dtype=np.int64)


def test_valid_passes_and_dataset_properties() -> None:
    validate_images(X, Y, 3, "src")
    ds = ImageDataset(X, Y, ("a", "b", "c"), "src")
    assert (len(ds), ds.num_classes, ds.image_shape) == (4, 3, (1, 3, 3))
    assert isinstance(DatasetError("x"), ValueError)


@pytest.mark.parametrize(
    ("images", "labels", "pattern"),
    [
        (X.astype(np.float32), Y, r"src: images have dtype float32; convert them to uint8"),
        (X[:, 0], Y, r"src: images have shape \(4, 3, 3\); expected N×C×H×W"),
        (np.zeros((4, 2, 3, 3), np.uint8), Y, r"shape \(4, 2, 3, 3\)"),
        (X[:0], Y[:0], r"src: contains no images"),
        (X, Y.astype(np.float64), r"labels have dtype float64; store them as integers"),
        (X, Y[:3], r"labels have shape \(3,\) but there are 4 images"),
        (X, Y[:, None], r"labels have shape \(4, 1\)"),
        (X, np.array([0, 1, 3, 0]), r"1 labels outside \[0, 3\) \(e\.g\. 3 at index 2\)"),
    ],
)
def test_bad_inputs(images: np.ndarray, labels: np.ndarray, pattern: str) -> None:
    with pytest.raises(DatasetError, match=pattern):
        validate_images(images, labels, 3, "src")


def test_empty_classes_listed_unless_allowed() -> None:
    labels = np.array([0, 0, 2, 2])
    with pytest.raises(DatasetError, match=r"src: classes \[1, 3\] have no images"):
        validate_images(X, labels, 4, "src")
    validate_images(X, labels, 4, "src", require_all_classes=False)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((2, 5, 6), (2, 1, 5, 6)),
        ((2, 3, 5, 6), (2, 3, 5, 6)),
        ((2, 5, 6, 1), (2, 1, 5, 6)),
        ((2, 5, 6, 3), (2, 3, 5, 6)),
    ],
)
def test_to_nchw_layouts(shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
    x = np.arange(np.prod(shape)).astype(np.uint8).reshape(shape)
    out = to_nchw_uint8(x, "src")
    assert out.shape == expected and out.flags.c_contiguous
    if len(shape) == 4 and shape[3] == 3:
        assert out[1, 2, 4, 5] == x[1, 4, 5, 2]


@pytest.mark.parametrize(
    ("x", "pattern"),
    [
        (
            np.zeros((2, 5, 6), np.float64),
            r"src: images have dtype float64; convert them to uint8 with values 0\.\.255",
        ),
        (
            np.zeros((2, 5, 6, 4), np.uint8),
            r"shape \(2, 5, 6, 4\); expected N×H×W, N×C×H×W or N×H×W×C",
        ),
        (np.zeros((2, 5), np.uint8), r"shape \(2, 5\)"),
    ],
)
def test_to_nchw_refuses(x: np.ndarray, pattern: str) -> None:
    with pytest.raises(DatasetError, match=pattern):
        to_nchw_uint8(x, "src")


def test_require_dir(tmp_path) -> None:
    assert require_dir(str(tmp_path), "ds", "FIX") == tmp_path
    with pytest.raises(DatasetError, match=r"ds: no data folder given.*Fix: FIX"):
        require_dir(None, "ds", "FIX")
    (tmp_path / "f").write_text("")
    with pytest.raises(DatasetError, match=r"ds: .*/f is not a folder\. Fix: FIX"):
        require_dir(tmp_path / "f", "ds", "FIX")
