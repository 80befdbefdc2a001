import numpy as np
import pytest

from netinv.config.validation import SampleThresholds, Threshold
from netinv.validation.samples import (
    nearest_same_class_distance,
    pixel_mean_partition,
    sample_checks,
    sample_table,
)
from netinv.validation.suite import run_checks

THRESHOLDS = SampleThresholds(
    max_label_kl=Threshold(0.05, "critical"), min_confidence=Threshold(0.9, "critical"),
    min_fidelity=Threshold(0.95, "critical"), min_eval_agreement=Threshold(0.8, "critical"),
    max_pixel_mean_kl=Threshold(1.0, "warning"), min_diversity_ratio=Threshold(0.5, "warning"),
)


def confident_logits(labels: np.ndarray, classes: int = 3) -> np.ndarray:
    logits = np.zeros((len(labels), classes))
    logits[np.arange(len(labels)), labels] = 10.0
    return logits


@pytest.fixture
def good(blobs):
    images, labels = blobs
    return images[:300], labels[:300], images[300:]


def validate(images, labels, classifier_logits, eval_logits, real):
    table = sample_table(images, labels, classifier_logits, eval_logits)
    real_distance = float(np.nanmean(nearest_same_class_distance(real, labels[: len(real)])))
    checks = sample_checks(3, THRESHOLDS, pixel_mean_partition(real), real_distance)
    return run_checks(table, checks, "samples")


def test_good_samples_pass(good):
    images, labels, real = good
    result = validate(images, labels, confident_logits(labels), confident_logits(labels), real)
    assert result.success, result.describe_failures()
    assert not result.failed("warning")


def test_disagreeing_judge_is_named(good):
    images, labels, real = good
    wrong = confident_logits((labels + 1) % 3)
    result = validate(images, labels, confident_logits(labels), wrong, real)
    assert [r.name for r in result.failed("critical")] == ["eval_agreement"]
    assert "eval_agreement (observed" in result.describe_failures()


def test_collapsed_and_unconfident_samples_fail(good):
    images, labels, real = good
    collapsed = np.repeat(images[:1], len(images), axis=0)  # one image for everything
    unsure = np.zeros((len(labels), 3))  # uniform probabilities: confidence 1/3
    unsure[np.arange(len(labels)), labels] = 0.01
    result = validate(collapsed, labels, unsure, confident_logits(labels), real)
    assert {r.name for r in result.failed("critical")} == {"classifier_confidence"}
    assert "within_class_diversity" in {r.name for r in result.failed("warning")}


def test_unbalanced_labels_fail(good):
    images, labels, real = good
    skewed = np.where(np.arange(len(labels)) < 250, 0, labels)
    result = validate(images, skewed, confident_logits(skewed), confident_logits(skewed), real)
    assert "label_balance_kl" in {r.name for r in result.failed("critical")}


def test_nearest_distance_is_zero_for_copies():
    images = np.zeros((4, 1, 4, 4), dtype=np.uint8)
    images[2:] = 255
    d = nearest_same_class_distance(images, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(d, 0.0)
    d = nearest_same_class_distance(images, np.array([0, 1, 0, 1]))
    np.testing.assert_allclose(d, 1.0)
