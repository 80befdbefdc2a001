"""Class-folder loader on small PNG/JPEG trees written with PIL."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from netinv.data.errors import DatasetError
from netinv.data.folder import load_folder


def save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


def gray(value: int, h: int = 4, w: int = 5) -> np.ndarray:
    return np.full((h, w), value, dtype=np.uint8)


def test_grayscale_tree(tmp_path: Path) -> None:
    for cls, base in (("cat", 10), ("ant", 50)):
        for i in range(3):
            save(tmp_path / cls / f"{i}.png", gray(base + i))
    (tmp_path / "cat" / ".DS_Store").write_bytes(b"junk")
    save(tmp_path / ".hidden" / "x.png", gray(0))
    (tmp_path / "notes.txt").write_text("ignored")
    splits = load_folder(tmp_path)
    train = splits.train
    assert splits.test is None
    assert train.class_names == ("ant", "cat")
    assert train.images.shape == (6, 1, 4, 5) and train.images.dtype == np.uint8
    np.testing.assert_array_equal(train.labels, [0, 0, 0, 1, 1, 1])
    assert train.images[0, 0, 0, 0] == 50 and train.images[5, 0, 0, 0] == 12


def test_one_rgb_image_makes_all_rgb(tmp_path: Path) -> None:
    save(tmp_path / "a" / "0.png", gray(77))
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200
    save(tmp_path / "b" / "0.png", rgb)
    images = load_folder(tmp_path).train.images
    assert images.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(images[0, :, 0, 0], [77, 77, 77])
    np.testing.assert_array_equal(images[1, :, 0, 0], [200, 0, 0])


def test_grey_palette_png_counts_as_grayscale(tmp_path: Path) -> None:
    pal = Image.fromarray(gray(30)).convert("P")
    (tmp_path / "a").mkdir()
    pal.save(tmp_path / "a" / "0.png")
    assert Image.open(tmp_path / "a" / "0.png").mode == "P"
    save(tmp_path / "b" / "0.bmp", gray(40))
    assert load_folder(tmp_path).train.image_shape == (1, 4, 5)


def test_train_test_layout_with_jpeg(tmp_path: Path) -> None:
    rgb = np.full((4, 5, 3), 128, np.uint8)
    for split, n in (("train", 2), ("test", 1)):
        for cls in ("x", "y"):
            for i in range(n):
                save(tmp_path / split / cls / f"{i}.JPG", rgb)
    splits = load_folder(tmp_path)
    assert splits.test is not None
    assert (len(splits.train), len(splits.test)) == (4, 2)
    assert splits.train.image_shape == splits.test.image_shape == (3, 4, 5)
    np.testing.assert_array_equal(splits.test.labels, [0, 1])


def test_test_class_unknown_to_train(tmp_path: Path) -> None:
    save(tmp_path / "train" / "x" / "0.png", gray(1))
    save(tmp_path / "test" / "z" / "0.png", gray(1))
    with pytest.raises(DatasetError, match=r"test has classes \['z'\] missing from .*train"):
        load_folder(tmp_path)


def test_odd_size_names_file_and_sizes(tmp_path: Path) -> None:
    save(tmp_path / "a" / "0.png", gray(1))
    odd = save(tmp_path / "b" / "big.png", gray(1, h=6, w=7))
    with pytest.raises(
        DatasetError, match=re.escape(str(odd)) + r" is 7×6 \(W×H\) but .*0\.png is 5×4"
    ):
        load_folder(tmp_path)


def test_empty_class_folder(tmp_path: Path) -> None:
    save(tmp_path / "a" / "0.png", gray(1))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("no images here")
    with pytest.raises(DatasetError, match=r"class folder .*/b holds no images"):
        load_folder(tmp_path)


def test_corrupt_png_is_named(tmp_path: Path) -> None:
    save(tmp_path / "a" / "0.png", gray(1))
    bad = tmp_path / "b" / "broken.png"
    bad.parent.mkdir()
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(
        DatasetError, match=r"cannot read image .*b/broken\.png.*replace or delete it"
    ):
        load_folder(tmp_path)


def test_sixteen_bit_image_refused(tmp_path: Path) -> None:
    save(tmp_path / "a" / "0.png", np.full((4, 5), 1000, np.uint16))
    with pytest.raises(DatasetError, match=r"0\.png is a I;16 .*save it as 8-bit"):
        load_folder(tmp_path)


def test_missing_or_flat_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"folder: data folder .*nowhere does not exist"):
        load_folder(tmp_path / "nowhere")
    save(tmp_path / "0.png", gray(1))
    with pytest.raises(DatasetError, match=r"has no class sub-folders"):
        load_folder(tmp_path)
