import math

import pytest
import torch

from netinv.config.inversion import LossWeights
from netinv.inversion import (
    cosine_similarity_loss,
    cross_entropy_loss,
    kl_loss,
    mode_seeking_loss,
    orthogonality_loss,
    total_variation,
)

LN3 = math.log(3.0)


def test_cross_entropy_matches_a_hand_computation():
    logits = torch.tensor([[0.0, LN3], [0.0, 0.0]])  # softmax: [1/4, 3/4] and [1/2, 1/2]
    labels = torch.tensor([1, 0])
    expected = (math.log(4 / 3) + math.log(2)) / 2
    assert cross_entropy_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_kl_is_zero_when_the_classifier_matches_the_target():
    p = torch.tensor([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])
    assert kl_loss(p.log() + 7.0, p).item() == pytest.approx(0.0, abs=1e-6)  # shift-invariant


def test_kl_matches_a_hand_computation_with_zero_targets():
    logits = torch.tensor([[0.0, LN3], [0.0, LN3]])  # Q = [1/4, 3/4]
    p = torch.tensor([[0.5, 0.5], [1.0, 0.0]])  # the one-hot's zero entry contributes exactly 0
    first = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    second = math.log(1.0 / 0.25)
    assert kl_loss(logits, p).item() == pytest.approx((first + second) / 2, rel=1e-6)


def test_kl_stays_finite_for_extreme_logits():
    loss = kl_loss(torch.tensor([[1e4, -1e4]]), torch.tensor([[0.0, 1.0]]))
    assert loss.item() == pytest.approx(2e4, rel=1e-6)


def test_cosine_loss_is_one_for_identical_features():
    features = torch.tensor([[1.0, 2.0, 3.0]]).repeat(4, 1)
    assert cosine_similarity_loss(features).item() == pytest.approx(1.0, abs=1e-6)


def test_cosine_loss_matches_a_hand_computation():
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    # cos: (1,2) = 0, (1,3) = (2,3) = 1/sqrt(2); mean over the 6 ordered pairs
    expected = 2 * (0 + 2 / math.sqrt(2)) / 6
    assert cosine_similarity_loss(features).item() == pytest.approx(expected, rel=1e-6)


def test_cosine_loss_over_same_class_pairs_only():
    features = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 0.0], [3.0, 3.0]])
    labels = torch.tensor([0, 0, 1, 1, 2])  # class 2 has no pair and is left out
    expected = (1 / math.sqrt(2) + 0.0) / 2
    assert cosine_similarity_loss(features, labels).item() == pytest.approx(expected, rel=1e-6)
    # all classes distinct: no pair at all
    assert cosine_similarity_loss(features, torch.arange(5)).item() == 0.0
    assert cosine_similarity_loss(features[:1]).item() == 0.0


def test_cosine_loss_is_differentiable():
    features = torch.randn(6, 4, requires_grad=True)
    cosine_similarity_loss(features, torch.tensor([0, 0, 1, 1, 2, 2])).backward()
    assert features.grad is not None and torch.isfinite(features.grad).all()
    assert features.grad.abs().sum() > 0


def test_orthogonality_is_zero_for_orthogonal_rows_at_any_scale():
    assert orthogonality_loss(torch.eye(3)).item() == pytest.approx(0.0, abs=1e-7)
    assert orthogonality_loss(torch.tensor([[2.0, 0.0], [0.0, 3.0]])).item() == pytest.approx(0.0, abs=1e-7)


def test_orthogonality_matches_a_hand_computation():
    # Gram of two identical unit vectors is all ones: ||[[1,1],[1,1]] - I||^2 / 2^2 = 2 / 4
    features = torch.tensor([[0.6, 0.8], [0.6, 0.8]])
    assert orthogonality_loss(features).item() == pytest.approx(0.5, rel=1e-6)
    # antiparallel rows count too (unlike the cosine loss)
    assert orthogonality_loss(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])).item() == pytest.approx(0.5, rel=1e-6)


def test_total_variation_of_checkerboard_constant_and_a_hand_case():
    rows, cols = torch.meshgrid(torch.arange(6), torch.arange(6), indexing="ij")
    checkerboard = ((rows + cols) % 2).float().view(1, 1, 6, 6).repeat(2, 3, 1, 1)
    assert total_variation(checkerboard).item() == pytest.approx(2.0)
    assert total_variation(torch.full((2, 3, 6, 6), 0.7)).item() == 0.0
    # [[0, 1], [1, 1]]: vertical diffs 1, 0; horizontal diffs 1, 0 -> 0.5 + 0.5
    assert total_variation(torch.tensor([[[[0.0, 1.0], [1.0, 1.0]]]])).item() == pytest.approx(1.0)


def test_mode_seeking_matches_a_hand_computation():
    images = torch.stack([torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), torch.ones(1, 2, 2), torch.full((1, 2, 2), 0.5)])
    latents = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    # pairs (0, 2), (1, 3): ratios 1 / 1 and 0.5 / 2 -> mean 0.625
    assert mode_seeking_loss(images, latents).item() == pytest.approx(1 / 0.625, rel=1e-4)


def test_mode_seeking_is_large_but_finite_for_collapsed_images():
    latents = torch.randn(4, 8)
    collapsed = mode_seeking_loss(torch.full((4, 1, 3, 3), 0.5), latents)
    varied = mode_seeking_loss(torch.rand(4, 1, 3, 3), latents)
    assert torch.isfinite(collapsed) and collapsed > 1e4 > varied
    with pytest.raises(ValueError, match="even B"):
        mode_seeking_loss(torch.rand(3, 1, 2, 2), torch.randn(3, 2))


def test_default_weights_are_the_papers_four_terms_plus_the_measured_bn_prior():
    weights = LossWeights()
    assert all(w > 0 for w in (weights.ce, weights.kl, weights.cos, weights.orth, weights.bn))
    assert weights.tv == weights.mode_seeking == 0.0


def test_a_negative_weight_is_refused():
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        LossWeights(ce=-1.0)
