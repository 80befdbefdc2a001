"""Training-data reconstruction: a conditioned generator fitted to a bank of fixed latents.

The generator is the inversion's (netinv.inversion.ConditionedGenerator); the objective is
the reconstruction's (netinv.reconstruction.objective). Where inversion samples fresh
latents every step to learn a distribution, a reconstruction wants a finite set of
candidate training images: each reconstruction i is G(z_i, onehot(y_i)) for a latent z_i
drawn once, `per_class` per class, and the generator's weights are the shared parameters
(a deep image prior over the whole set). The reconstructions are the final G(z_i).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from netinv.config.reconstruction import ReconstructionConfig, ReconstructionWeights
from netinv.inversion.conditioning import Conditioning
from netinv.inversion.features import BatchNormStatsPrior, FeatureTap
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.losses import cosine_similarity_loss, orthogonality_loss, total_variation
from netinv.reconstruction.objective import (
    hot_kl,
    pixel_range_loss,
    robustness_loss,
    weight_gradient_norm,
)
from netinv.training import descend

log = logging.getLogger(__name__)




def reconstruction_terms(images: torch.Tensor, labels: torch.Tensor, classifier: nn.Module, tap: FeatureTap | None,
                         bn_prior: BatchNormStatsPrior | None, config: ReconstructionConfig,
                         rng: torch.Generator) -> dict[str, torch.Tensor]:
    """The unweighted terms of one batch (those with weight 0 are skipped), plus its `confidence_mean`."""
    w = config.weights
    logits = classifier(images).float()  # clean pass first: the feature tap and BN prior read it
    terms = {"confidence": hot_kl(logits, labels)}
    if tap is not None:
        features = torch.cat([f.float() for f in tap.features], dim=1)  # (B, F)
        if w.cos:
            terms["cos"] = cosine_similarity_loss(features, labels)
        if w.orth:
            terms["orth"] = orthogonality_loss(features)
    if bn_prior is not None:
        terms["bn"] = bn_prior.loss()
    if w.tv:
        terms["tv"] = total_variation(images)
    if w.range:
        terms["range"] = pixel_range_loss(images)
    if w.robustness:
        terms["robustness"] = robustness_loss(classifier, images, labels, config.perturbation, config.epsilon,
                                              config.copies, rng)
    if w.grad_norm:
        terms["grad_norm"] = weight_gradient_norm(classifier, images, labels, groups=config.grad_groups)
    with torch.no_grad():
        terms["confidence_mean"] = F.softmax(logits, 1).gather(1, labels[:, None]).mean()
    return terms


def weighted_total(terms: dict[str, torch.Tensor], weights: ReconstructionWeights) -> torch.Tensor:
    return sum(getattr(weights, name) * value for name, value in terms.items() if name != "confidence_mean")


def reconstruct(generator: ConditionedGenerator, classifier: nn.Module, config: ReconstructionConfig,
                device: torch.device, on_log: Callable[[dict[str, float]], None] | None = None,
                log_every: int = 25) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]]]:
    """Fit `generator` so that G(z_i, y_i) over a fixed latent bank minimises the objective.

    Returns uint8 reconstructions (N, C, H, W), their int64 labels (N,) (`per_class` of
    each class, in class order) and the loss history. The classifier's weights are never
    changed. Raises TrainingDivergedError on a non-finite loss.
    """
    classifier = classifier.to(device).eval()
    for p in classifier.parameters():
        p.requires_grad_(False)
    generator.to(device).train()
    num_classes = generator.config.num_classes
    rng = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    labels = torch.arange(num_classes).repeat_interleave(config.per_class).to(device)  # (N,)
    latents = generator.sample_latent(len(labels), generator=rng, device=device)  # (N, latent)
    cond = Conditioning(labels=labels, vectors=F.one_hot(labels, num_classes).float())
    batch = len(labels) if config.batch_size is None else min(config.batch_size, len(labels))
    optimizer = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=(0.5, 0.999))
    w = config.weights
    tap = FeatureTap(classifier, config.feature_layers) if (w.cos or w.orth) else None
    bn_prior = BatchNormStatsPrior(classifier) if w.bn else None
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    try:
        for step in range(config.recon_steps):
            idx = torch.randperm(len(labels), generator=rng)[:batch].to(device)
            images = generator(latents[idx], Conditioning(cond.labels[idx], cond.vectors[idx]))  # (B, C, H, W)
            terms = reconstruction_terms(images, labels[idx], classifier, tap, bn_prior, config, rng)
            loss = weighted_total(terms, w)
            descend(loss, optimizer, config="ReconstructionConfig", terms=terms, inputs=list(generator.parameters()),
                    diverged=f"reconstruction loss became {{loss}} at step {step + 1} (non-finite terms: {{bad}}); "
                             f"lower the learning rate lr (now {config.lr})")
            if (step + 1) % log_every == 0 or step + 1 == config.recon_steps:
                record = {"step": step + 1, "loss": loss.item(), **{k: v.item() for k, v in terms.items()}}
                history.append(record)
                if on_log is not None:
                    on_log(record)
    finally:
        if tap is not None:
            tap.close()
        if bn_prior is not None:
            bn_prior.close()
    log.info("reconstruction: %d steps in %.1fs", config.recon_steps, time.perf_counter() - started)
    with torch.no_grad():
        # The whole bank in one batch, in training mode: the batch statistics it was fitted with.
        images = torch.cat([generator(latents[s : s + 1000], Conditioning(cond.labels[s : s + 1000],
                                                                         cond.vectors[s : s + 1000]))
                            for s in range(0, len(labels), 1000)])
    generator.eval()
    out = (images.float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    return out, labels.cpu().numpy().astype(np.int64), history
