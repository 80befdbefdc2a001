"""The reconstruction losses against hand computations, on tiny models."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from netinv.reconstruction.objective import (
    hot_kl,
    perturb,
    pixel_range_loss,
    robustness_loss,
    weight_gradient_norm,
)


def linear_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 3)).double()


def test_gradient_norm_equals_the_explicit_softmax_regression_gradient():
    model = linear_model()
    x = torch.rand(5, 1, 3, 4, dtype=torch.float64)
    y = torch.tensor([0, 2, 1, 1, 0])
    linear = model[1]
    # d CE / d W = (softmax - onehot)^T x / N, d CE / d b = mean(softmax - onehot)
    residual = F.softmax(linear(x.flatten(1)), 1) - F.one_hot(y, 3).double()  # (N, K)
    grad_w = residual.T @ x.flatten(1) / len(x)  # (K, D)
    grad_b = residual.mean(0)  # (K,)
    expected = torch.sqrt((grad_w**2).sum() + (grad_b**2).sum())
    assert weight_gradient_norm(model, x, y).item() == pytest.approx(expected.item(), rel=1e-6)
    # groups = N: the mean of per-sample norms
    per_sample = [torch.sqrt((torch.outer(r, xi) ** 2).sum() + (r**2).sum())
                  for r, xi in zip(residual, x.flatten(1), strict=True)]
    assert weight_gradient_norm(model, x, y, groups=5).item() == pytest.approx(
        torch.stack(per_sample).mean().item(), rel=1e-6)


def test_gradient_norm_is_differentiable_in_the_images_and_leaves_the_model_frozen():
    model = linear_model(1)
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.rand(4, 1, 3, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    assert torch.autograd.gradcheck(lambda v: weight_gradient_norm(model, v, y), (x,))
    assert not any(p.requires_grad for p in model.parameters())
    weight_gradient_norm(model, x, y).backward()
    assert x.grad is not None and all(p.grad is None for p in model.parameters())


def test_hot_kl_is_the_cross_entropy_and_zero_for_a_certain_answer():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([0, 2])
    assert hot_kl(logits, labels).item() == pytest.approx(F.cross_entropy(logits, labels).item(), rel=1e-6)
    assert hot_kl(torch.tensor([[50.0, 0.0, 0.0]]), torch.tensor([0])).item() == pytest.approx(0.0, abs=1e-6)


def test_perturbations_have_the_requested_size():
    rng = torch.Generator().manual_seed(0)
    x = torch.zeros(64, 1, 8, 8)
    assert perturb(x, "gaussian", 0.1, rng).std().item() == pytest.approx(0.1, rel=0.05)
    assert perturb(x, "uniform", 0.1, rng).abs().max().item() <= 0.1
    image = torch.arange(64.0).view(1, 1, 8, 8)
    shifted = perturb(image, "shift", 2, rng)
    assert sorted(shifted.flatten().tolist()) == sorted(image.flatten().tolist())  # a roll keeps every pixel
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb(x, "blur", 0.1, rng)


def test_robustness_loss_grows_with_the_perturbation():
    model = linear_model(2).float()
    x = torch.rand(32, 1, 3, 4)
    y = model(x).argmax(1)
    small = robustness_loss(model, x, y, "gaussian", 0.01, 4, torch.Generator().manual_seed(0))
    large = robustness_loss(model, x, y, "gaussian", 3.0, 4, torch.Generator().manual_seed(0))
    assert small.item() < large.item()


def test_pixel_range_penalises_only_values_outside_the_range():
    assert pixel_range_loss(torch.rand(2, 1, 4, 4)).item() == 0.0
    x = torch.tensor([[[[1.5, -0.5, 0.5, 0.0]]]])
    assert pixel_range_loss(x).item() == pytest.approx((0.25 + 0.25) / 4)
