"""Known answers for the within-set diversity statistics."""

from __future__ import annotations

import numpy as np
import pytest

from netinv.metrics.diversity import (
    mean_pairwise_cosine,
    mean_pairwise_distance,
    mean_pairwise_ssim,
    sample_pairs,
    ssim_win_size,
)


def test_cosine_identical_rows_is_one() -> None:
    features = np.tile([[0.3, -1.0, 2.0]], (6, 1))
    assert mean_pairwise_cosine(features) == pytest.approx(1.0)


def test_cosine_orthogonal_basis_is_zero() -> None:
    assert mean_pairwise_cosine(np.eye(8)) == pytest.approx(0.0, abs=1e-12)


def test_cosine_hand_case_and_scale_invariance() -> None:
    # pairs: (a, b) = 1, (a, c) = 0, (b, c) = 0 -> mean over ordered pairs = 2 / 6
    features = np.array([[1.0, 0.0], [5.0, 0.0], [0.0, 2.0]])
    assert mean_pairwise_cosine(features) == pytest.approx(1 / 3)


def test_cosine_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="N, F"):
        mean_pairwise_cosine(np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        mean_pairwise_cosine(np.ones((1, 3)))


def test_sample_pairs_all_or_random_without_self_pairs() -> None:
    i, j = sample_pairs(5, max_pairs=100, seed=0)
    assert len(i) == 10 and (i < j).all()
    i, j = sample_pairs(50, max_pairs=300, seed=1)
    assert len(i) == 300 and (i != j).all() and j.max() == 49 and i.max() == 49


def test_ssim_identical_is_one_and_noise_is_low() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 1, 28, 28), dtype=np.uint8)
    assert mean_pairwise_ssim(np.repeat(image, 4, axis=0)) == pytest.approx(1.0)
    noise = rng.integers(0, 256, (20, 1, 28, 28), dtype=np.uint8)
    assert mean_pairwise_ssim(noise, max_pairs=50) < 0.2


def test_ssim_colour_and_tiny_images() -> None:
    rng = np.random.default_rng(1)
    colour = rng.integers(0, 256, (1, 3, 32, 32), dtype=np.uint8)
    assert mean_pairwise_ssim(np.repeat(colour, 3, axis=0)) == pytest.approx(1.0)
    assert (
        mean_pairwise_ssim(rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8), max_pairs=20)
        < 0.2
    )
    digits = rng.integers(0, 17, (10, 1, 8, 8), dtype=np.uint8) * 15
    assert -1.0 <= mean_pairwise_ssim(digits) < 0.5
    assert [ssim_win_size(s, s) for s in (3, 4, 7, 8, 28)] == [3, 3, 7, 7, 7]


def test_ssim_rejects_float_images() -> None:
    with pytest.raises(ValueError, match="uint8"):
        mean_pairwise_ssim(np.zeros((3, 1, 8, 8), dtype=np.float32))


def test_pixel_distance_known_answers() -> None:
    same = np.full((5, 1, 4, 4), 77, dtype=np.uint8)
    assert mean_pairwise_distance(same) == 0.0
    # black vs white 1x2x2: ||(1, 1, 1, 1)|| = 2; the black/black pair adds 0 -> mean over 3 pairs
    images = np.stack([np.zeros((1, 2, 2)), np.full((1, 2, 2), 255), np.zeros((1, 2, 2))]).astype(
        np.uint8
    )
    assert mean_pairwise_distance(images) == pytest.approx((2 + 2 + 0) / 3)
    assert mean_pairwise_distance(images[:2]) == pytest.approx(2.0)
