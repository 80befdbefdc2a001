"""The KKT (implicit-bias) reconstruction attack: find the points the weights are made of.

A homogeneous ReLU network trained to convergence on cross-entropy (Haim et al., NeurIPS
2022, github.com/nivha/dataset_reconstruction), or to a stationary point with weight decay
(Buzaglo et al. 2023, github.com/gonbuzaglo/decoreco), satisfies

    theta = sum_i lambda_i * grad_theta phi(x_i, y_i),   lambda_i >= 0,

over its training points (x_i, y_i), with phi the margin: in decoreco's multiclass form the
logit of the true class minus the largest other logit. The attack optimises m candidates
x_j (labels fixed, `candidates` per class) and coefficients lambda_j so that the right-hand
side matches the trained weights (`kkt_loss`), with decoreco's penalties
``5 * (lambda_min - lambda)_+^2`` and pixels outside [0, 1] (their "verify" loss). Twice as
many candidates as training images, as in both papers.

The weighted sum of gradients is ONE backward pass: grad_theta of sum_j lambda_j/m * phi(x_j)
with create_graph=True (decoreco's own construction), so the cost is that of a double
backward of the whole bank, not m per-sample gradients. The residual is divided by
|theta|^2, so that one step size fits models of any scale (the audited CNN as well as the MLP).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch
from torch import nn

from netinv.config.reconstruction import KKTConfig, Margin
from netinv.training import descend

log = logging.getLogger(__name__)
LAMBDA_PENALTY = 5.0  # decoreco's weight on (lambda_min - lambda)_+^2


def margins(logits: torch.Tensor, labels: torch.Tensor, kind: Margin = "max") -> torch.Tensor:
    """(m,) true-class logit minus the largest other logit (`max`: decoreco's multiclass phi) or minus
    their logsumexp (`logsumexp`).

    Why logsumexp: at a stationary point of cross-entropy plus weight decay, theta is a
    combination of ``(1 - p_y) * grad(f_y - sum_{j != y} softmax_j f_j)`` per training point,
    which is exactly the gradient of this smooth margin; the max form is its limit when one
    other class dominates. Measured on the default positive control (100 Fashion-MNIST
    images), the training images themselves reach a relative residual of 0.016 with it
    against 0.16 with the max.
    """
    true = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.scatter(1, labels[:, None], float("-inf"))
    return true - (torch.logsumexp(others, dim=1) if kind == "logsumexp" else others.max(dim=1).values)


def kkt_loss(model: nn.Module, candidates: torch.Tensor, labels: torch.Tensor, lambdas: torch.Tensor,
             params: list[torch.Tensor] | None = None, margin: Margin = "logsumexp") -> torch.Tensor:
    """``|theta - sum_j lambda_j/m grad_theta phi(x_j, y_j)|^2 / |theta|^2``, differentiable in x and lambda.

    `params`: the weights theta (default: every parameter of `model`); they must require grad.
    """
    params = list(model.parameters()) if params is None else params
    phi = margins(model(candidates), labels, margin)  # (m,)
    combination = (lambdas * phi).sum() / len(labels)
    grads = torch.autograd.grad(combination, params, create_graph=True)
    residual = sum((p.detach() - g).pow(2).sum() for p, g in zip(params, grads, strict=True))
    return residual / sum(p.detach().pow(2).sum() for p in params)


def constraint_loss(candidates: torch.Tensor, lambdas: torch.Tensor, lambda_min: float) -> torch.Tensor:
    """Decoreco's penalties: coefficients below `lambda_min`, pixels outside [0, 1]."""
    lam = LAMBDA_PENALTY * (lambda_min - lambdas).relu().pow(2).sum()
    pixels = (candidates - 1).relu().pow(2).sum() + (-candidates).relu().pow(2).sum()
    return lam + pixels


def _start(model: nn.Module, mean_image: torch.Tensor, labels: torch.Tensor, config: KKTConfig,
           device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidates at the data mean plus `init_scale` noise (decoreco starts at 0 of mean-reduced data);
    coefficients uniform in [0, 1) (decoreco's start)."""
    rng = torch.Generator().manual_seed(config.seed)
    noise = torch.randn((len(labels), *mean_image.shape), generator=rng) * config.init_scale
    candidates = (mean_image.cpu()[None] + noise).to(device).requires_grad_(True)
    lambdas = torch.rand(len(labels), generator=rng).to(device).requires_grad_(True)
    return candidates, lambdas


def kkt_attack(model: nn.Module, mean_image: torch.Tensor, labels: np.ndarray, config: KKTConfig,
               device: torch.device, log_every: int = 100) -> tuple[np.ndarray, dict[str, float]]:
    """Reconstruct candidates of `labels` (m,) from `model`'s weights; returns uint8 (m, C, H, W) and a summary.

    `mean_image` (C, H, W) in [0, 1]: where candidates start. The model's weights never change.
    If the model has a `smooth_beta` attribute (MemorizingMLP), it is set to `config.smooth_beta`
    for the attack and restored after.
    """
    model = model.to(device).eval()
    params = [p for p in model.parameters()]
    saved_grad = [p.requires_grad for p in params]
    saved_beta = getattr(model, "smooth_beta", None)
    if hasattr(model, "smooth_beta"):
        model.smooth_beta = config.smooth_beta
    y = torch.as_tensor(labels, device=device, dtype=torch.long)
    candidates, lambdas = _start(model, mean_image.float(), y, config, device)
    optimizer = torch.optim.Adam([{"params": [candidates], "lr": config.lr},
                                  {"params": [lambdas], "lr": config.lambda_lr}])
    # Cosine decay to zero: the candidates settle instead of jittering around the solution at the end.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.steps)
    started = time.perf_counter()
    fit = loss = torch.tensor(float("nan"))
    try:
        for p in params:
            p.requires_grad_(True)
        for step in range(config.steps):
            fit = kkt_loss(model, candidates, y, lambdas, params, config.margin)
            loss = fit + constraint_loss(candidates, lambdas, config.lambda_min)
            descend(loss, optimizer, schedule, config="KKTConfig", inputs=[candidates, lambdas],
                    diverged=f"KKT attack loss became {{loss}} at step {step + 1}; lower the candidates' step size "
                             f"lr (now {config.lr})")
            with torch.no_grad():  # valid images only: negative pixels would switch other images' units off
                candidates.clamp_(0.0, 1.0)
            if (step + 1) % log_every == 0:
                log.info("KKT attack step %d/%d: relative residual %.4f, total %.4f", step + 1, config.steps,
                         fit.item(), loss.item())
    finally:
        for p, flag in zip(params, saved_grad, strict=True):
            p.requires_grad_(flag)
        if hasattr(model, "smooth_beta"):
            model.smooth_beta = saved_beta
    images = (candidates.detach().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    summary = {"kkt_residual": float(fit.detach()), "final_loss": float(loss.detach()), "lambda_mean": float(lambdas.detach().mean()),
               "reconstruct_seconds": time.perf_counter() - started}
    return images, summary
