"""The classic baseline: invert by gradient descent on the input pixels, batch by batch.

Each batch of images starts as noise and is optimised until the classifier assigns the
intended labels (cross-entropy) under a total-variation prior (Mahendran & Vedaldi 2015;
DeepInversion, Yin et al. 2020, adds the batch-norm prior, available here too). Every
new batch costs a full optimisation, which is what a trained generator amortises.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from netinv.inversion.features import BatchNormStatsPrior
from netinv.inversion.losses import cross_entropy_loss, total_variation
from netinv.inversion.trainer import augment


@dataclass(frozen=True)
class PixelOptConfig:
    steps: int = 200
    lr: float = 0.1
    tv: float = 0.05
    bn: float = 0.0
    jitter: int = 0  # random shift of each step's batch before the classifier, as the generator's training does
    batch_size: int = 256
    target_fidelity: float = 1.0  # stop a batch early once this fraction is classified as intended
    check_every: int = 10
    seed: int = 0


def invert_pixels(classifier: nn.Module, labels: torch.Tensor, image_shape: tuple[int, int, int],
                  config: PixelOptConfig, device: torch.device,
                  init: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """uint8 images (N, C, H, W) for `labels`, and the total optimisation steps spent.

    `init` (uint8 images, one per label) starts the optimisation from given images, for
    example a generator's samples, instead of noise: the pixels then only refine them."""
    classifier.eval().to(device)
    for p in classifier.parameters():
        p.requires_grad_(False)
    rng = torch.Generator().manual_seed(config.seed)
    shifts = torch.Generator().manual_seed(config.seed + 1)
    prior = BatchNormStatsPrior(classifier) if config.bn else None
    out, total_steps = [], 0
    try:
        for start in range(0, len(labels), config.batch_size):
            y = labels[start : start + config.batch_size].to(device)
            # Pixels as logits: sigmoid keeps them in [0, 1] without clipping the gradient.
            if init is None:
                w = torch.randn(len(y), *image_shape, generator=rng) * 0.5
            else:  # the logit of the given pixels, kept off +-inf
                w = torch.logit(init[start : start + config.batch_size].float().div(255).clamp(0.01, 0.99))
            w = w.to(device).requires_grad_(True)
            optimizer = torch.optim.Adam([w], lr=config.lr)
            for step in range(config.steps):
                x = torch.sigmoid(w)  # (B, C, H, W)
                logits = classifier(augment(x, config.jitter, False, shifts))
                loss = cross_entropy_loss(logits, y) + config.tv * total_variation(x)
                if prior is not None:
                    loss = loss + config.bn * prior.loss()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total_steps += 1
                if (step + 1) % config.check_every == 0:
                    with torch.no_grad():
                        done = (classifier(torch.sigmoid(w)).argmax(1) == y).float().mean().item()
                    if done >= config.target_fidelity:
                        break
            out.append((torch.sigmoid(w.detach()) * 255).round().to(torch.uint8).cpu())
    finally:
        if prior is not None:
            prior.close()
    return torch.cat(out), total_steps
