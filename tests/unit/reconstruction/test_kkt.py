"""The KKT attack on a network whose weights are, by construction, a combination of known inputs' margin
gradients: the objective is zero at those inputs, and the attack finds them."""

import numpy as np
import pytest
import torch
from torch import nn

from netinv.config.reconstruction import KKTConfig
from netinv.reconstruction.kkt import kkt_attack, kkt_loss, margins
from netinv.reconstruction.memorizer import smooth_relu
from netinv.reconstruction.similarity import pairwise_ssim

SIDE, UNITS = 12, 3  # image side; hidden units per training image


class TwoLayer(nn.Module):
    """relu(W x) then a fixed head: W is the only parameter, so it alone must satisfy the KKT condition."""

    def __init__(self, weight: torch.Tensor, head: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.register_buffer("head", head)
        self.smooth_beta: float | None = None  # the attack sets it, as for MemorizingMLP

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return smooth_relu(x.flatten(1) @ self.weight.T, self.smooth_beta) @ self.head.T


def construction():
    """4 images with disjoint supports (quadrants), one per class; unit k of image i has w_k = lambda_i x_i and
    head[y_i, k] = 1, so grad_W phi(x_i) is x_i on image i's units and W = sum_i lambda_i grad_W phi(x_i)."""
    rng = np.random.default_rng(0)
    images = np.zeros((4, 1, SIDE, SIDE), dtype=np.float32)
    half = SIDE // 2
    for i, (r, c) in enumerate(((0, 0), (0, half), (half, 0), (half, half))):
        images[i, 0, r : r + half, c : c + half] = rng.uniform(0.3, 1.0, (half, half))
    labels = np.arange(4)
    lambdas = np.array([1.0, 2.0, 1.5, 0.5], dtype=np.float32)
    x = torch.from_numpy(images)
    weight = torch.cat([lambdas[i] * x[i].flatten()[None].repeat(UNITS, 1) for i in range(4)])
    head = torch.zeros(4, 4 * UNITS)
    for i, y in enumerate(labels):
        head[y, i * UNITS : (i + 1) * UNITS] = 1.0
    return TwoLayer(weight, head), x, torch.from_numpy(labels), torch.from_numpy(lambdas)


def test_margin_is_true_logit_minus_the_best_other():
    logits = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 1.0]])
    assert margins(logits, torch.tensor([0, 2]), "max").tolist() == [1.0, -4.0]
    expected = 3.0 - torch.logsumexp(torch.tensor([1.0, 2.0]), 0)
    assert margins(logits, torch.tensor([0, 2]), "logsumexp")[0].item() == pytest.approx(expected.item())


def test_the_objective_is_zero_at_the_training_points_and_not_elsewhere():
    model, x, y, lam = construction()
    m = len(y)  # the objective's coefficients are lambda / m
    assert kkt_loss(model, x, y, lam * m, margin="max").item() < 1e-10
    assert kkt_loss(model, x.flip(2), y, lam * m).item() > 0.1
    assert kkt_loss(model, x, y, lam * m * 2).item() > 0.1


def test_the_attack_recovers_the_training_points(one_thread):
    model, x, y, _ = construction()
    config = KKTConfig(steps=600, lr=0.02, lambda_lr=0.02, lambda_min=0.05, init_scale=0.01, margin="max",
                       smooth_beta=5.0)
    images, summary = kkt_attack(model, x.mean(0), y.numpy(), config, torch.device("cpu"))
    truth = (x.numpy() * 255).round().astype(np.uint8)
    ssim = pairwise_ssim(truth, images)  # (train, candidates)
    assert summary["kkt_residual"] < 0.3  # from 1.0 at the start; the images converge before the coefficients
    assert ssim.max(axis=1).min() > 0.9, ssim.max(axis=1)
    assert all(p.requires_grad for p in model.parameters())  # restored after the attack
