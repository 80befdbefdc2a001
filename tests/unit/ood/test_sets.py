import logging

import numpy as np
import pytest

from netinv.data import DatasetError
from netinv.ood.sets import builtin_ood_sets, convert_images, load_image_file


def test_builtin_sets_have_the_classifier_shape():
    sets = builtin_ood_sets(["gaussian", "uniform"], (1, 12, 12), 50, seed=0)
    assert {k: v.shape for k, v in sets.items()} == {k: (50, 1, 12, 12) for k in ("gaussian", "uniform")}
    assert all(v.dtype == np.uint8 for v in sets.values())
    assert sets["uniform"].std() > sets["gaussian"].std() > 30
    with pytest.raises(ValueError, match="unknown built-in OOD set 'svhn'"):
        builtin_ood_sets(["svhn"], (1, 12, 12), 5, seed=0)


def test_user_file_is_converted_or_refused(tmp_path, caplog):
    rgb = np.random.default_rng(0).integers(0, 256, (7, 3, 16, 16), dtype=np.uint8)
    np.savez(tmp_path / "rgb.npz", images=rgb)
    with caplog.at_level(logging.WARNING):
        grey = load_image_file(tmp_path / "rgb.npz", (1, 12, 12))
    assert grey.shape == (7, 1, 12, 12) and grey.dtype == np.uint8
    assert "3 -> 1 channels" in caplog.text and "(16, 16) -> (12, 12) pixels" in caplog.text
    assert convert_images(np.zeros((2, 12, 12), dtype=np.uint8), (3, 12, 12), "x").shape == (2, 3, 12, 12)
    np.savez(tmp_path / "float.npz", images=rgb.astype(np.float32))
    with pytest.raises(DatasetError, match="dtype float32; convert them to uint8"):
        load_image_file(tmp_path / "float.npz", (1, 12, 12))
    np.savez(tmp_path / "five.npz", images=np.zeros((2, 5, 8, 8, 2), dtype=np.uint8))
    with pytest.raises(DatasetError, match="expected N×H×W"):
        load_image_file(tmp_path / "five.npz", (1, 12, 12))
    np.savez(tmp_path / "other.npz", pixels=rgb)
    with pytest.raises(DatasetError, match=r"lacks \[.images.\]"):
        load_image_file(tmp_path / "other.npz", (1, 12, 12))
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DatasetError, match="corrupt or not a .npz file"):
        load_image_file(tmp_path / "text.npz", (1, 12, 12))
