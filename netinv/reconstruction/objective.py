"""The reconstruction objective: push inverted samples from *like* the training data towards it.

docs/method.md, "Training-data reconstruction". A classifier treats its training points
differently from other inputs of their class, in three ways that an inversion can exploit:

- **higher confidence**: ``L_conf = KL(onehot(y) || softmax(C(x)))`` (a "hot" target,
  where inversion uses a soft vector);
- **robustness**: the same KL on perturbed copies ``x + eps * n`` (Gaussian or uniform
  noise ``n``, or a random shift of up to ``eps`` pixels) must stay low;
- **stationarity**: near a training point the loss is flat in the weights,
  ``L_grad = || d L_CE(C_theta(x), y) / d theta ||_2`` (differentiated through, with
  ``create_graph=True``; the batch may be split into groups, each with its own norm, which
  approaches the per-sample norm as groups grow);

plus image priors (total variation; a pixel-range penalty for unbounded image
parameterisations; DeepInversion's batch-norm statistics, which for a target trained on a
small subset describe that very subset) and the inversion paper's cosine / orthogonality
terms that keep reconstructions of one class apart. Every term is a pure function
returning a scalar tensor; every weight is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from netinv.config.reconstruction import PERTURBATIONS
from netinv.inversion.losses import kl_loss


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Half precision (autocast) up to float32; float64 stays float64."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def hot_kl(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``1/N sum_i KL(onehot(y_i) || softmax(logits_i))``: equal to the cross-entropy for a one-hot target."""
    return kl_loss(logits, F.one_hot(labels, logits.shape[1]).to(logits.dtype))


def perturb(images: torch.Tensor, kind: str, epsilon: float, rng: torch.Generator) -> torch.Tensor:
    """A perturbed copy of a batch (B, C, H, W): additive noise of scale `epsilon`, or a random
    shift of up to `epsilon` pixels (rounded) for `shift`. Values are not clipped."""
    if kind == "gaussian":
        return images + epsilon * torch.randn(images.shape, generator=rng).to(images.device, images.dtype)
    if kind == "uniform":
        noise = 2 * torch.rand(images.shape, generator=rng) - 1  # U(-1, 1)
        return images + epsilon * noise.to(images.device, images.dtype)
    if kind == "shift":
        limit = max(1, round(epsilon))
        dy, dx = (int(v) for v in torch.randint(-limit, limit + 1, (2,), generator=rng))
        return torch.roll(images, shifts=(dy, dx), dims=(2, 3))
    raise ValueError(f"unknown perturbation {kind!r}; valid: {', '.join(PERTURBATIONS)}")


def robustness_loss(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor, kind: str,
                    epsilon: float, copies: int, rng: torch.Generator) -> torch.Tensor:
    """Mean hot-target KL over `copies` perturbed copies of the batch."""
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    losses = [hot_kl(_at_least_fp32(classifier(perturb(images, kind, epsilon, rng))), labels) for _ in range(copies)]
    return torch.stack(losses).mean()


def weight_gradient_norm(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                         params: Sequence[torch.Tensor] | None = None, groups: int = 1) -> torch.Tensor:
    """``|| d/dtheta CE(C_theta(x), y) ||_2`` over all of `params` (default: every classifier
    weight), differentiable with respect to `images`.

    The batch is split into `groups` consecutive chunks; the result is the mean of the chunks'
    norms (groups = batch size gives the mean per-sample norm). The weights' ``requires_grad``
    is switched on for the call and restored afterwards.
    """
    params = list(classifier.parameters()) if params is None else list(params)
    if not params:
        raise ValueError("the classifier has no parameters to take the gradient norm over")
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(True)
        norms = []
        for chunk_x, chunk_y in zip(images.chunk(groups), labels.chunk(groups), strict=True):
            loss = F.cross_entropy(_at_least_fp32(classifier(chunk_x)), chunk_y)
            grads = torch.autograd.grad(loss, params, create_graph=True)
            squared = sum((_at_least_fp32(g) ** 2).sum() for g in grads)
            norms.append(torch.sqrt(squared + 1e-12))
        return torch.stack(norms).mean()
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


def pixel_range_loss(images: torch.Tensor, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """Mean squared excess outside [low, high]: 0 for images in range (a sigmoid generator's
    always are); the prior for parameterisations that are not bounded."""
    return (F.relu(images - high) ** 2 + F.relu(low - images) ** 2).mean()
