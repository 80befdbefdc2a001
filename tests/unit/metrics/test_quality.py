"""Fidelity / agreement, the one-pass embedding, FID, KID and the per-class aggregate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from netinv.metrics.class_diversity import (
    per_class_diversity,
    real_control_prdc,
    same_sized_control,
)
from netinv.metrics.distance import (
    EmbedExtractor,
    distribution_distance,
    fid_kid_with_extractor,
    frechet_distance,
    kernel_inception_distance,
)
from netinv.metrics.quality import embed_and_predict, label_agreement
from netinv.models.io import build_model


@pytest.fixture(scope="module")
def tiny_resnet() -> nn.Module:
    torch.manual_seed(0)
    return build_model(
        "resnet", in_channels=1, image_size=(12, 12), num_classes=10, width=8, stages=2, groups=4
    )


def test_label_agreement_from_labels_or_logits() -> None:
    intended = np.array([0, 1, 2, 2])
    assert label_agreement(np.array([0, 1, 1, 2]), intended) == 0.75
    assert label_agreement(np.eye(3)[[0, 1, 2, 0]] * 5.0, intended) == 0.75
    with pytest.raises(ValueError, match="intended labels"):
        label_agreement(np.array([0, 1]), intended)


def test_embed_and_predict_is_one_consistent_pass(tiny_resnet: nn.Module) -> None:
    images = np.random.default_rng(0).integers(0, 256, (37, 1, 12, 12), dtype=np.uint8)
    tiny_resnet.train()
    features, logits = embed_and_predict(tiny_resnet, images, batch_size=16)
    assert tiny_resnet.training  # mode restored
    assert features.shape == (37, 16) and logits.shape == (37, 10) and features.dtype == np.float32
    with torch.no_grad():
        expected = tiny_resnet.eval()(torch.from_numpy(images).float() / 255).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    with pytest.raises(ValueError, match="uint8"):
        embed_and_predict(tiny_resnet, images.astype(np.float32))


def test_fid_same_distribution_near_zero_and_shift_known() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4000, 8)), rng.normal(size=(4000, 8))
    assert frechet_distance(a, b) < 0.05
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, b + 2.0) == pytest.approx(8 * 2.0**2, rel=0.02)


def test_fid_agrees_with_torchmetrics_and_handles_small_n() -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Identity(nn.Module):
        num_features = 6

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    rng = np.random.default_rng(1)
    real = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    fake = rng.normal(0.3, 1.5, size=(250, 6))
    metric = FrechetInceptionDistance(feature=Identity())
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    assert frechet_distance(real, fake) == pytest.approx(float(metric.compute()), rel=1e-3)
    small = frechet_distance(real[:4], fake[:3])  # singular covariances (N < F)
    assert np.isfinite(small) and small > 0
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(real[:1], fake)


def test_kid_same_distribution_near_zero_shifted_positive() -> None:
    from torchmetrics.image.kid import poly_mmd

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(500, 16)), rng.normal(size=(500, 16))
    mean, std = kernel_inception_distance(a, b, subsets=10, subset_size=100)
    assert abs(mean) < 0.05 and std >= 0
    assert kernel_inception_distance(a, b + 1.0)[0] > 0.5
    # whole sets as one subset: the unbiased MMD^2 of torchmetrics
    ours = kernel_inception_distance(a[:80], b[:80] + 0.5, subsets=1, subset_size=80)[0]
    theirs = float(poly_mmd(torch.from_numpy(a[:80]), torch.from_numpy(b[:80] + 0.5)))
    assert ours == pytest.approx(theirs, rel=1e-6)
    # subset_size larger than the sets is clipped, and the seed makes it repeatable
    assert kernel_inception_distance(a[:30], b[:40], seed=3) == kernel_inception_distance(
        a[:30], b[:40], seed=3
    )


def test_fid_kid_with_torchmetrics_extractor(tiny_resnet: nn.Module) -> None:
    rng = np.random.default_rng(3)
    real = rng.integers(0, 256, (120, 1, 12, 12), dtype=np.uint8)
    fake = rng.integers(0, 120, (120, 1, 12, 12), dtype=np.uint8)
    extractor = EmbedExtractor(tiny_resnet)
    same = fid_kid_with_extractor(extractor, real, real)
    assert same["fid"] == pytest.approx(0.0, abs=1e-3) and abs(same["kid"]) < 0.05
    result = fid_kid_with_extractor(extractor, real, fake, subset_size=50)
    assert all(np.isfinite(v) for v in result.values()) and result["fid"] > 0
    real_f, _ = embed_and_predict(tiny_resnet, real)
    fake_f, _ = embed_and_predict(tiny_resnet, fake)
    assert frechet_distance(real_f, fake_f) == pytest.approx(result["fid"], rel=1e-3)


def _class_images(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """A bright bar whose row is the class, over uniform noise: 1 x 12 x 12."""
    images = rng.integers(0, 100, size=(len(labels), 1, 12, 12)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 0, 1 + 4 * label : 3 + 4 * label, 2:10] = 250
    return images


def _features(images: np.ndarray) -> np.ndarray:
    """Cheap stand-in for evaluator features: 3 x 3 average pooled pixels."""
    return images.reshape(len(images), 4, 3, 4, 3).mean(axis=(2, 4)).reshape(len(images), -1) / 255


@pytest.fixture(scope="module")
def real_set() -> tuple[np.ndarray, np.ndarray]:
    labels = np.repeat(np.arange(3), 100)
    return _class_images(np.random.default_rng(10), labels), labels


def test_per_class_diversity_separates_collapse_from_real_like(real_set) -> None:
    real, real_labels = real_set
    rng = np.random.default_rng(11)
    labels = np.repeat(np.arange(3), 60)
    like = _class_images(rng, labels)
    # collapsed: every sample of a class is one real image plus +-3 grey levels of noise
    seeds = real[[np.flatnonzero(real_labels == c)[0] for c in labels]].astype(np.int16)
    collapsed = np.clip(seeds + rng.integers(-3, 4, size=seeds.shape), 0, 255).astype(np.uint8)
    real_f = _features(real)
    good = per_class_diversity(
        like, labels, _features(like), real, real_labels, real_f, 3, max_ssim_pairs=100
    )
    bad = per_class_diversity(
        collapsed, labels, _features(collapsed), real, real_labels, real_f, 3, max_ssim_pairs=100
    )
    assert good["coverage"] > 0.6 and 0.8 <= good["pixel_spread_ratio"] <= 1.25
    assert bad["coverage"] < 0.3 and bad["pixel_spread_ratio"] < 0.3
    assert bad["diversity_ssim"] > good["diversity_ssim"] and bad["precision"] > 0.5
    assert set(good["per_class"]) == {"0", "1", "2"} and good["skipped_classes"] == {}
    assert (
        good["per_class"]["1"]["num_generated"] == 60 and good["per_class"]["1"]["num_real"] == 100
    )
    for key in (
        "diversity_cosine",
        "diversity_cosine_real",
        "diversity_ssim_real",
        "recall",
        "density",
    ):
        assert np.isfinite(good[key])


def test_per_class_diversity_skips_thin_real_class_and_rejects_thin_generated(real_set) -> None:
    real, real_labels = real_set
    keep = (real_labels != 2) | (np.arange(len(real_labels)) < 203)  # 3 real images of class 2
    real, real_labels = real[keep], real_labels[keep]
    labels = np.repeat(np.arange(3), 10)
    gen = _class_images(np.random.default_rng(12), labels)
    result = per_class_diversity(
        gen, labels, _features(gen), real, real_labels, _features(real), 3, max_ssim_pairs=20
    )
    assert set(result["per_class"]) == {"0", "1"} and "2" in result["skipped_classes"]
    assert result["classes_evaluated"] == 2
    with pytest.raises(ValueError, match="class 2: 4 generated"):
        per_class_diversity(
            gen[:24], labels[:24], _features(gen[:24]), real, real_labels, _features(real), 3
        )
    with pytest.raises(ValueError, match="labels must be"):
        per_class_diversity(gen, labels[:5], _features(gen), real, real_labels, _features(real), 3)


def test_distribution_distance_overall_and_per_class(real_set) -> None:
    real, real_labels = real_set
    labels = np.repeat(np.arange(3), 40)
    gen = _class_images(np.random.default_rng(13), labels)
    result = distribution_distance(
        _features(gen), labels, _features(real), real_labels, num_classes=4
    )
    assert set(result["per_class"]) == {"0", "1", "2"} and "3" in result["skipped_classes"]
    assert result["fid"] >= 0 and all(np.isfinite(v["fid"]) for v in result["per_class"].values())


def test_same_sized_control_matches_the_generated_counts_per_class() -> None:
    labels = np.array([0, 0, 0, 2, 2])
    control_labels = np.repeat(np.arange(3), 10)
    picked = same_sized_control(labels, control_labels, seed=1)
    assert sorted(control_labels[picked].tolist()) == [0, 0, 0, 2, 2] and len(set(picked.tolist())) == 5
    with pytest.raises(ValueError, match="class 2: 5 generated images but only 3 real control"):
        same_sized_control(np.array([2] * 5), np.array([2, 2, 2, 0]))


def test_real_control_is_the_coverage_ceiling_and_depends_on_set_size() -> None:
    """Real control images from the reference's own distribution: coverage below 1 when the
    control set is smaller than the reference (why a generated coverage needs this beside it)."""
    rng = np.random.default_rng(3)
    reference, control = rng.normal(size=(500, 4)), rng.normal(size=(500, 4))
    ref_labels, control_labels = np.zeros(500, int), np.zeros(500, int)
    small = real_control_prdc(reference, ref_labels, control[:100], control_labels[:100], ["0"], k=5)
    equal = real_control_prdc(reference, ref_labels, control, control_labels, ["0"], k=5)
    assert 0.4 < small["coverage_real"] < 0.8 < equal["coverage_real"]
    assert small["per_class"]["0"]["coverage_real"] == small["coverage_real"]
    assert small["precision_real"] > 0.85
