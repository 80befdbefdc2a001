"""The papers' matching on a constructed case: per training image its best reconstruction, counts, the gap."""

import numpy as np

from netinv.reconstruction.recovery import best_reconstruction, recovery, verdict
from netinv.reconstruction.significance import difference_ci


def images(seed, n):
    return np.random.default_rng(seed).integers(0, 256, (n, 1, 16, 16)).astype(np.uint8)


def test_exact_copies_of_half_the_training_images_are_counted_and_the_control_is_not():
    train, control = images(0, 8), images(1, 8)
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    recons = np.concatenate([train[[0, 1, 4, 5]], images(2, 4)])  # 4 copies, 4 noise images
    recon_labels = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    ssim, index = best_reconstruction(train, labels, recons, recon_labels)
    assert np.allclose(ssim[[0, 1, 4, 5]], 1.0) and index[[0, 1, 4, 5]].tolist() == [0, 1, 2, 3]
    found = recovery(recons, recon_labels, train, labels, control, labels, threshold=0.6, bootstrap=500)
    assert found["recovered_frac_train"] == 0.5 and found["recovered_frac_control"] == 0.0
    assert found["recovered_gap"] == 0.5 and 0 < found["recovered_ci_low"] <= 0.5 <= found["recovered_ci_high"]
    assert "50% of 8 training images" in verdict("Test", found, 8) and "training data leaks" in verdict("T", found, 8)


def test_a_copy_of_the_wrong_class_does_not_count():
    train = images(0, 2)
    ssim, index = best_reconstruction(train, np.array([0, 1]), train[[1]], np.array([0]))
    assert np.isnan(ssim[1]) and index[1] == -1 and ssim[0] < 0.6


def test_difference_interval_straddles_zero_when_both_sets_are_alike():
    a = np.r_[np.ones(10), np.zeros(10)]
    low, high = difference_ci(a, a.copy(), n_boot=500)
    assert low < 0 < high
