"""SSIM / PSNR, best matches, Hungarian recovery and the bootstrap gap: known answers."""

import numpy as np
import pytest
import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from netinv.reconstruction.matching import (
    best_matches,
    hungarian_recovered,
    leakage,
    matched_fraction,
)
from netinv.reconstruction.significance import bootstrap_ci
from netinv.reconstruction.similarity import pairwise_psnr, pairwise_ssim


def shapes(n: int, seed: int, size: int = 16) -> np.ndarray:
    """n uint8 (1, size, size) images: a bright rectangle of random position and extent on a dark noisy field."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, size=(n, 1, size, size)).astype(np.uint8)
    for i in range(n):
        y, x = rng.integers(0, size // 2, 2)
        h, w = rng.integers(3, size // 2, 2)
        images[i, 0, y : y + h, x : x + w] = rng.integers(180, 255)
    return images


def test_pairwise_ssim_equals_torchmetrics_on_every_pair(one_thread):
    a, b = shapes(5, 0), shapes(7, 1)
    ours = pairwise_ssim(a, b, dtype=torch.float64)
    x = torch.from_numpy(a).double().div(255).repeat_interleave(len(b), 0)
    y = torch.from_numpy(b).double().div(255).repeat(len(a), 1, 1, 1)
    reference = structural_similarity_index_measure(x, y, data_range=1.0, reduction="none").view(len(a), len(b))
    assert np.abs(ours - reference.numpy()).max() < 1e-9
    assert np.abs(pairwise_ssim(a, b) - reference.numpy()).max() < 1e-4  # the float32 default


def test_ssim_is_one_for_identical_images_and_lower_for_shifted_and_noise(one_thread):
    images = shapes(4, 2)
    shifted = np.roll(images, 3, axis=3)
    noise = np.random.default_rng(3).integers(0, 256, size=images.shape).astype(np.uint8)
    same = np.diag(pairwise_ssim(images, images))
    assert same == pytest.approx(1.0, abs=1e-5)
    moved = np.diag(pairwise_ssim(images, shifted))
    random = np.diag(pairwise_ssim(images, noise))
    assert (moved < 0.95).all() and (random < 0.2).all() and (random < moved).all()


def test_psnr_capped_for_identical_and_known_for_a_constant_offset():
    a = np.full((1, 1, 8, 8), 100, dtype=np.uint8)
    b = np.full((1, 1, 8, 8), 100 + 51, dtype=np.uint8)  # difference 0.2 on the [0, 1] scale: MSE 0.04
    assert pairwise_psnr(a, a)[0, 0] == pytest.approx(100.0)
    assert pairwise_psnr(a, b)[0, 0] == pytest.approx(10 * np.log10(1 / 0.04), abs=1e-4)


def test_best_match_finds_the_copy_within_the_same_class_only():
    images = shapes(6, 4)
    labels = np.array([0, 0, 0, 1, 1, 1])
    recons = images[[4, 1]]  # a copy of a class-1 image labelled 1, of a class-0 image labelled 0
    found = best_matches(recons, np.array([1, 0]), images, labels)
    assert found["index"].tolist() == [4, 1]
    assert found["ssim"] == pytest.approx(1.0, abs=1e-5)
    wrong_class = best_matches(recons[:1], np.array([0]), images, labels)  # searched among class 0 only
    assert wrong_class["index"][0] in (0, 1, 2) and wrong_class["ssim"][0] < 0.99


def test_hungarian_matching_is_one_to_one_on_a_constructed_case():
    # Greedy (best row first) takes (0, 0) = 0.9 and leaves row 1 with 0.1; the optimum is the
    # anti-diagonal, 0.8 + 0.85: both pairs above the threshold.
    similarity = np.array([[0.9, 0.8], [0.85, 0.1]])
    recovered, rows, cols = hungarian_recovered(similarity, threshold=0.4)
    assert recovered == 2 and sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0)]
    # Two reconstructions of the same image cannot both recover it.
    recovered, _, _ = hungarian_recovered(np.array([[0.9, 0.1], [0.9, 0.1]]), threshold=0.4)
    assert recovered == 1


def test_matched_fraction_counts_training_images_recovered():
    images = shapes(8, 5)
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    recons = images[[0, 0, 5]]  # one image twice, another once: 2 of 8 recovered
    assert matched_fraction(recons, np.array([0, 0, 1]), images, labels, threshold=0.9) == pytest.approx(2 / 8)


def test_bootstrap_interval_contains_the_true_gap_on_a_synthetic_case():
    rng = np.random.default_rng(0)
    covered = 0
    for trial in range(40):
        d = rng.normal(0.05, 0.1, size=200)  # per-reconstruction differences, true mean 0.05
        low, high = bootstrap_ci(d, n_boot=400, seed=trial)
        covered += low <= 0.05 <= high
        assert low < d.mean() < high
    assert covered >= 34  # a 95% interval: about 38 of 40, allowing for chance


def test_leakage_gap_is_positive_for_copied_training_images_and_null_without_them(one_thread):
    train, control = shapes(40, 6), shapes(40, 7)
    labels = np.repeat([0, 1], 20)
    rng = np.random.default_rng(8)
    noisy = np.clip(train[::2].astype(int) + rng.integers(-20, 21, train[::2].shape), 0, 255).astype(np.uint8)
    leak = leakage(noisy, labels[::2], train, labels, control, labels, bootstrap=300)
    assert leak["leakage_gap"] > 0.3 and leak["gap_ci_low"] > 0.1  # a resampled set may miss a copied image
    assert leak["gap_p_value"] < 0.01
    assert leak["matched_frac_train"] == pytest.approx(0.5) and leak["matched_frac_control"] < 0.2
    assert leak["leakage_gap"] == pytest.approx(leak["ssim_train_mean"] - leak["ssim_control_mean"])
    fresh = shapes(40, 9)  # images of neither set: no leakage, the interval straddles 0
    none = leakage(fresh, labels, train, labels, control, labels, bootstrap=300)
    assert none["gap_ci_low"] < 0 < none["gap_ci_high"]
    assert none["gap_p_value"] > 0.05
    assert none["gap_ci_recons_low"] >= none["gap_ci_low"]  # resampling the sets too widens the interval


def test_permutation_null_is_calibrated_and_masked_max_exact():
    from netinv.reconstruction.significance import _masked_max, permutation_p_value

    rng = np.random.default_rng(11)
    p_values = []
    for trial in range(30):  # train and control similarities from one distribution: p ~ U(0, 1)
        sims = rng.random((6, 80))
        train_sims = {0: (np.arange(6), np.arange(40), sims[:, :40])}
        control_sims = {0: (np.arange(6), np.arange(40), sims[:, 40:])}
        observed = float((sims[:, :40].max(1) - sims[:, 40:].max(1)).mean())
        p_values.append(permutation_p_value(train_sims, control_sims, observed, n_perm=200, seed=trial))
    assert 0.3 < np.mean(p_values) < 0.7 and np.mean(np.array(p_values) < 0.05) < 0.2
    sims, mask = rng.random((5, 300)), rng.random((9, 300)) < 0.01  # few columns: the top-k shortcut misses
    assert np.array_equal(_masked_max(sims, mask), np.where(mask[:, None, :], sims[None], -np.inf).max(axis=2))


def test_leakage_refuses_a_control_of_another_class_balance():
    images = shapes(6, 10)
    with pytest.raises(ValueError, match="as many images per class"):
        leakage(images[:2], np.array([0, 1]), images[:4], np.array([0, 0, 1, 1]), images[:4],
                np.array([0, 1, 1, 1]))
