"""PRDC (Naeem et al. 2020): hand cases, limits and a brute-force check of the definitions."""

from __future__ import annotations

import numpy as np
import pytest

from netinv.metrics.prdc import prdc


def _reference(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The paper's definitions written as loops."""

    def radius(points: np.ndarray, i: int) -> float:
        others = [np.linalg.norm(points[i] - points[j]) for j in range(len(points)) if j != i]
        return sorted(others)[k - 1]

    r_real = [radius(real, i) for i in range(len(real))]
    r_fake = [radius(fake, j) for j in range(len(fake))]
    d = lambda a, b: float(np.linalg.norm(a - b))  # noqa: E731
    inside = [[d(x, y) < r_real[i] for i, x in enumerate(real)] for y in fake]
    return {
        "precision": float(np.mean([any(row) for row in inside])),
        "recall": float(
            np.mean([any(d(x, y) < r_fake[j] for j, y in enumerate(fake)) for x in real])
        ),
        "density": float(np.sum(inside) / (k * len(fake))),
        "coverage": float(
            np.mean([min(d(x, y) for y in fake) < r_real[i] for i, x in enumerate(real)])
        ),
    }


def test_hand_case_in_one_dimension() -> None:
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[0.5], [10.0]])
    # real radii (k=1) all 1; fake radii 9.5. 0.5 lies in the balls of 0 and 1.
    assert prdc(real, fake, k=1) == {
        "precision": 0.5,
        "recall": 1.0,
        "density": 1.0,
        "coverage": 0.5,
    }


def test_matches_brute_force_definitions() -> None:
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(40, 3)), rng.normal(0.5, 1.2, size=(30, 3))
    result, expected = prdc(real, fake, k=3), _reference(real, fake, k=3)
    assert result == pytest.approx(expected)


def test_identical_sets_score_one() -> None:
    real = np.random.default_rng(1).normal(size=(200, 16))
    result = prdc(real, real.copy(), k=5)
    assert result["precision"] == result["recall"] == result["coverage"] == 1.0
    # each real ball holds itself and k - 1 others strictly inside (distinct distances): exactly k per ball
    assert result["density"] == pytest.approx(1.0)


def test_far_away_set_scores_zero() -> None:
    real = np.random.default_rng(2).normal(size=(100, 8))
    assert prdc(real, real + 100.0, k=5) == {
        "precision": 0.0,
        "recall": 0.0,
        "density": 0.0,
        "coverage": 0.0,
    }


def test_mode_collapse_keeps_precision_loses_coverage() -> None:
    rng = np.random.default_rng(3)
    real = rng.normal(size=(200, 16))
    fake = real[7] + 1e-3 * rng.normal(size=(50, 16))
    result = prdc(real, fake, k=5)
    assert result["precision"] > 0.9
    assert result["coverage"] < 0.2 and result["recall"] < 0.2


def test_too_few_samples_and_bad_shapes_raise() -> None:
    real = np.zeros((10, 4))
    with pytest.raises(ValueError, match="more than k fake"):
        prdc(real, np.ones((5, 4)), k=5)
    with pytest.raises(ValueError, match="more than k real"):
        prdc(real[:3], np.ones((8, 4)), k=5)
    with pytest.raises(ValueError, match="feature sizes differ"):
        prdc(real, np.ones((10, 3)), k=5)
    with pytest.raises(ValueError, match="positive integer"):
        prdc(real, real, k=0)
