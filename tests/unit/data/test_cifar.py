"""CIFAR-10 pickle loader, including refusal of pickles that would run code."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from netinv.data.cifar import CIFAR10_CLASSES, load_cifar10
from netinv.data.errors import DatasetError

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def write_batch(path: Path, data: object, labels: object, protocol: int = 2) -> None:
    batch = {b"batch_label": b"x", b"labels": labels, b"data": data, b"filenames": [b"a.png"]}
    path.write_bytes(pickle.dumps(batch, protocol=protocol))


def make_cifar(root: Path, n: int = 10, protocol: int = 2) -> dict[str, np.ndarray]:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    written = {}
    for name in BATCHES:
        data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        write_batch(root / name, data, [i % 10 for i in range(n)], protocol)
        written[name] = data
    return written


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_loads_batches(tmp_path: Path, protocol: int) -> None:
    written = make_cifar(tmp_path, protocol=protocol)
    splits = load_cifar10(tmp_path)
    assert splits.train.images.shape == (50, 3, 32, 32)
    assert splits.train.images.dtype == np.uint8
    assert splits.test is not None and splits.test.images.shape == (10, 3, 32, 32)
    np.testing.assert_array_equal(
        splits.train.images[0], written["data_batch_1"][0].reshape(3, 32, 32)
    )
    np.testing.assert_array_equal(
        splits.train.images[10], written["data_batch_2"][0].reshape(3, 32, 32)
    )
    np.testing.assert_array_equal(splits.train.labels[:10], np.arange(10))
    assert splits.train.labels.dtype == np.int64
    assert splits.train.class_names == CIFAR10_CLASSES


def test_subfolder_and_meta_names(tmp_path: Path) -> None:
    inner = tmp_path / "cifar-10-batches-py"
    make_cifar(inner)
    names = [f"c{i}".encode() for i in range(10)]
    (inner / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    splits = load_cifar10(tmp_path)
    assert splits.train.class_names == tuple(f"c{i}" for i in range(10))


class _Print:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("PWNED",))


class _Mkdir:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.mkdir, (self.path,))


def test_code_in_pickle_is_refused_not_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_cifar(tmp_path)
    write_batch(tmp_path / "data_batch_3", _Print(), [0])
    with pytest.raises(
        DatasetError,
        match=r"refusing to unpickle (__builtin__|builtins)\.print from .*data_batch_3",
    ):
        load_cifar10(tmp_path)
    assert "PWNED" not in capsys.readouterr().out


def test_os_call_in_pickle_is_refused_not_run(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    marker = tmp_path / "pwned"
    write_batch(tmp_path / "test_batch", _Mkdir(marker), [0])
    with pytest.raises(DatasetError, match=r"refusing to unpickle \w+\.mkdir from .*test_batch"):
        load_cifar10(tmp_path)
    assert not marker.exists()


def test_wrong_data_shape(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    write_batch(tmp_path / "data_batch_2", np.zeros((10, 3000), np.uint8), list(range(10)))
    with pytest.raises(
        DatasetError, match=r"data_batch_2 b'data' has dtype uint8 and shape \(10, 3000\)"
    ):
        load_cifar10(tmp_path)


def test_label_count_mismatch(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    write_batch(tmp_path / "test_batch", np.zeros((10, 3072), np.uint8), [0, 1, 2])
    with pytest.raises(
        DatasetError, match=r"test_batch has 10 images but b'labels' has shape \(3,\)"
    ):
        load_cifar10(tmp_path)


def test_corrupt_pickle(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    (tmp_path / "data_batch_4").write_bytes(b"\x80\x02garbage")
    with pytest.raises(DatasetError, match=r"data_batch_4 is corrupt"):
        load_cifar10(tmp_path)


def test_missing_batch_and_missing_dir(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    (tmp_path / "test_batch").unlink()
    with pytest.raises(
        DatasetError, match=re.escape(str(tmp_path / "test_batch")) + " not found.*cifar-10-python"
    ):
        load_cifar10(tmp_path)
    with pytest.raises(DatasetError, match=r"nowhere does not exist.*dataset root"):
        load_cifar10(tmp_path / "nowhere")


def test_numpy_1_module_path_of_official_files_is_accepted(tmp_path: Path) -> None:
    """The official batches name numpy.core.multiarray, which numpy 2 only keeps as a shim."""
    make_cifar(tmp_path)
    path = tmp_path / "data_batch_1"
    raw = path.read_bytes()  # protocol 2 uses text GLOBAL opcodes, so the swap keeps it valid
    assert b"numpy._core.multiarray\n" in raw
    path.write_bytes(raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"))
    assert load_cifar10(tmp_path).train.images.shape == (50, 3, 32, 32)
