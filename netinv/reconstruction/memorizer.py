"""The positive control's target: a model chosen to memorise, as the reconstruction papers train it.

Haim et al., "Reconstructing Training Data from Trained Neural Networks" (NeurIPS 2022,
github.com/nivha/dataset_reconstruction) and Buzaglo et al., "Deconstructing Data
Reconstruction" (2023, github.com/gonbuzaglo/decoreco) reconstruct training images from a
ReLU MLP (784-1000-1000-classes, bias in the first layer only, the first layer initialised
small, inputs with the training mean subtracted) trained full-batch to convergence on a few
hundred images. Weight decay makes the trained weights a stationary point of
``L(theta) + wd/2 |theta|^2``, so ``theta = -(1/wd) grad L``: a combination of the
training points' logit gradients, which is what the KKT attack (netinv.reconstruction.kkt)
inverts. If this model does not leak, the attack is broken; that is what a positive control is for.

The MLP takes images in [0, 1] (the pipeline's input contract) and subtracts the training
mean itself. While attacked, `smooth_beta` makes ReLU's derivative ``sigmoid(beta z)``
(the papers' "modified ReLU"): same forward values, a second derivative that is not zero.
"""

from __future__ import annotations

import itertools
import logging
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from netinv.config.reconstruction import PositiveControlConfig
from netinv.training import descend

log = logging.getLogger(__name__)


def smooth_relu(z: torch.Tensor, beta: float | None) -> torch.Tensor:
    """ReLU's values; with `beta`, softplus' derivatives (sigmoid(beta z)): a gate that is never exactly
    closed, so a candidate can still open it (the papers' "modified ReLU")."""
    if beta is None:
        return F.relu(z)
    smooth = F.softplus(z, beta=beta)
    return smooth + (F.relu(z) - smooth).detach()


class MemorizingMLP(nn.Module):
    """Flatten, subtract the training mean, `depth` ReLU layers of `width`, a linear head; bias in layer 1 only."""

    def __init__(self, mean_image: torch.Tensor, width: int, depth: int, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean_image", mean_image.flatten().float())  # (D,) on the [0, 1] scale
        dims = [self.mean_image.numel()] + [width] * depth
        self.hidden = nn.ModuleList(nn.Linear(a, b, bias=i == 0) for i, (a, b) in enumerate(itertools.pairwise(dims)))
        self.head = nn.Linear(width, num_classes, bias=False)
        self.smooth_beta: float | None = None  # set by the attack; None: plain ReLU derivatives

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h = images.flatten(1) - self.mean_image
        for layer in self.hidden:
            h = smooth_relu(layer(h), self.smooth_beta)
        return self.head(h)


def _as_float(images: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(images, device=device).float() / 255.0


def train_memorizer(images: np.ndarray, labels: np.ndarray, num_classes: int, config: PositiveControlConfig,
                    seed: int, device: torch.device) -> tuple[MemorizingMLP, dict[str, float]]:
    """A MemorizingMLP fitted full-batch to uint8 (N, C, H, W) `images`: Adam on cross-entropy plus
    ``wd/2 |theta|^2`` (an explicit term, so that its stationary point is the one the attack assumes),
    the step size decayed to zero by a cosine schedule so that it ends at that point. Eval mode."""
    torch.manual_seed(seed)
    x = _as_float(images, device)
    y = torch.as_tensor(labels, device=device, dtype=torch.long)
    model = MemorizingMLP(x.mean(0), config.width, config.depth, num_classes).to(device)
    with torch.no_grad():  # every layer small: what training adds, not the random start, makes the weights
        for p in model.parameters():
            p.normal_(0.0, config.init_scale)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / config.epochs)))
    started = time.perf_counter()
    for step in range(config.epochs):
        ce = F.cross_entropy(model(x), y)
        loss = ce + 0.5 * config.weight_decay * sum(p.pow(2).sum() for p in model.parameters())
        descend(loss, optimizer, schedule, config="PositiveControlConfig",
                diverged=f"positive-control training loss became {{loss}} at epoch {step + 1}; lower the learning "
                         f"rate lr (now {config.lr})")
    model.eval()
    with torch.no_grad():
        accuracy = float((model(x).argmax(1) == y).float().mean())
    seconds = time.perf_counter() - started
    log.info("positive control: MLP trained %d epochs in %.1fs, loss %.4f (cross-entropy %.4f), train accuracy %.3f",
             config.epochs, seconds, loss.item(), ce.item(), accuracy)
    return model, {"target_train_accuracy": accuracy, "target_epochs": config.epochs, "target_seconds": seconds,
                   "target_final_loss": loss.item(), "target_final_ce": ce.item()}
