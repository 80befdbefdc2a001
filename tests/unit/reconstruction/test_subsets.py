"""Training subsets and their held-out controls: balanced, and never overlapping."""

import numpy as np
import pytest

from netinv.reconstruction.subsets import class_counts, subset_and_control


@pytest.mark.parametrize("size", [10, 30, 57, 300])
def test_subset_and_control_are_disjoint_balanced_and_alike(size):
    labels = np.random.default_rng(0).permutation(np.repeat(np.arange(10), 100))
    train, control = subset_and_control(labels, size, seed=1, num_classes=10)
    assert len(train) == len(control) == size
    assert len(np.unique(train)) == size and len(np.unique(control)) == size
    assert not set(train.tolist()) & set(control.tolist())
    counts = np.bincount(labels[train], minlength=10)
    assert counts.max() - counts.min() <= 1
    assert np.array_equal(counts, np.bincount(labels[control], minlength=10))


def test_control_from_another_split_and_reproducible():
    labels = np.repeat(np.arange(3), 50)
    other = np.repeat(np.arange(3), 10)
    train, control = subset_and_control(labels, 30, seed=2, num_classes=3, control_labels=other)
    assert np.array_equal(np.bincount(other[control]), [10, 10, 10])
    again = subset_and_control(labels, 30, seed=2, num_classes=3, control_labels=other)
    assert np.array_equal(train, again[0]) and np.array_equal(control, again[1])


def test_too_large_a_control_is_refused_with_the_fix():
    labels = np.repeat(np.arange(2), 10)
    with pytest.raises(ValueError, match="unused images of class"):
        subset_and_control(labels, 12, seed=0, num_classes=2)  # 6 + 6 of 10 per class
    with pytest.raises(ValueError, match="at least 10"):
        class_counts(5, 10)
