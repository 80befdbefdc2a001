"""Training the conditioned generator against a frozen classifier (docs/method.md, "Inversion with a
conditioned generator").

One plain loop: sample conditioning and latents, generate, classify, add the weighted
losses, step. Every `checkpoint_every` steps the whole state (generator, optimiser, step,
history, random-number states) is written atomically, so a killed run resumes where its
last checkpoint left it and, with a fixed seed, ends where an uninterrupted run ends.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from netinv import distributed
from netinv.checkpoint import load_checkpoint, save_checkpoint
from netinv.config.distill import StudentConfig
from netinv.config.inversion import InversionConfig, LossWeights
from netinv.device import autocast
from netinv.inversion.conditioning import sample_conditioning
from netinv.inversion.datafree import Adversary, DataFreeTerms, MemoryBank, random_views
from netinv.inversion.features import BatchNormStatsPrior, FeatureTap
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.losses import (
    cosine_similarity_loss,
    cross_entropy_loss,
    kl_loss,
    mode_seeking_loss,
    orthogonality_loss,
    total_variation,
)
from netinv.models.student import LeNetStudent
from netinv.progress import progress as progress_of
from netinv.training import descend

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = "netinv.inversion-checkpoint/1"




def _frozen(classifier: nn.Module) -> nn.Module:
    classifier.eval()
    for p in classifier.parameters():
        p.requires_grad_(False)
    return classifier


class Batch(NamedTuple):
    """What the classifier saw of one generated batch: the data-free terms' student learns from it."""

    viewed: torch.Tensor  # (B, C, H, W): the generated images after the random views
    logits: torch.Tensor  # (B, K): the classifier's answers
    features: torch.Tensor  # (B, F): its tapped features


def inversion_losses(
    generator: ConditionedGenerator, classifier: nn.Module, tap: FeatureTap, bn_prior: BatchNormStatsPrior | None,
    config: InversionConfig, rng: torch.Generator, device: torch.device, forward: nn.Module | None = None,
    extras: DataFreeTerms | None = None,
) -> tuple[dict[str, torch.Tensor], Batch]:
    """One batch's loss terms (unweighted) and the batch's fidelity, as tensors, and the batch.

    The global batch is drawn identically on every data-parallel rank and each rank keeps
    its share, so `rng` stays in step everywhere; `forward` is the DDP wrapper, if any.
    """
    num_classes = generator.config.num_classes
    batch_size = config.batch_size
    paired = bool(config.weights.mode_seeking)  # Mao et al.: pairs (i, i + B/2) differ only in z
    cond = sample_conditioning(generator.config.mode, batch_size // 2 if paired else batch_size, num_classes,
                               temperature=config.temperature, generator=rng, device=device)
    if paired:
        cond = cond.repeated()
    z = generator.sample_latent(batch_size, generator=rng, device=device)  # (B, latent)
    share = distributed.shard(torch.arange(batch_size, device=device))
    cond, z = cond.select(share), z[share]
    with autocast(device):
        images = (forward or generator)(z, cond)  # (B, C, H, W) in [0, 1]
        viewed = random_views(augment(images, config.jitter, config.flip, rng), config.crop, 0, rng)
        logits = classifier(viewed).float()
    features = torch.cat([f.float() for f in tap.features], dim=1)  # (B, F)
    w = config.weights
    terms = {
        "ce": cross_entropy_loss(logits, cond.labels),
        "kl": kl_loss(logits, cond.vectors),
        "cos": cosine_similarity_loss(features, cond.labels if config.same_class_cosine else None),
        "orth": orthogonality_loss(features),
    }
    if w.tv:
        terms["tv"] = total_variation(images.float())
    if w.bn and bn_prior is not None:
        terms["bn"] = bn_prior.loss()
    if w.mode_seeking:
        terms["mode_seeking"] = mode_seeking_loss(images.float(), z)
    if extras is not None:  # after the batch-norm prior: the contrastive view runs the classifier again
        terms.update(extras.terms(viewed, images, logits, features, lambda x: _second_view(x, classifier, tap, config, rng),
                                  config.contrast_temperature))
    terms["fidelity"] = (logits.argmax(1) == cond.labels).float().mean()
    return terms, Batch(viewed, logits, features)


def _second_view(images: torch.Tensor, classifier: nn.Module, tap: FeatureTap, config: InversionConfig,
                 rng: torch.Generator) -> torch.Tensor:
    """The classifier's features of another random view (crop at least 0.2, shift) of `images`: CMI's positive."""
    with autocast(images.device):
        classifier(random_views(images, max(config.crop, 0.2), max(config.jitter, 1), rng))
    return torch.cat([f.float() for f in tap.features], dim=1)


def data_free_terms(config: InversionConfig, generator: ConditionedGenerator, student: Callable[[], nn.Module] | None,
                    device: torch.device) -> DataFreeTerms | None:
    """The adversarial / contrastive terms' state, or None when both weights are 0. The adversary's
    student is `student()`, by default the distillation student (another family than the classifier)."""
    w = config.weights
    if not (w.adv or w.contrast):
        return None
    adversary = None
    if w.adv:
        g = generator.config
        network = student() if student is not None else LeNetStudent(
            StudentConfig(in_channels=g.out_channels, image_size=g.image_size, num_classes=g.num_classes))
        adversary = Adversary(network.to(device), config.student_lr, config.student_temperature)
    return DataFreeTerms(adversary, MemoryBank(config.memory_size) if w.contrast else None)


def augment(images: torch.Tensor, jitter: int, flip: bool, rng: torch.Generator) -> torch.Tensor:
    """Random shift (and flip) of the batch, as DeepInversion does: a sample must keep its class
    when moved a pixel or two, which adversarial high-frequency patterns do not survive."""
    if jitter > 0:
        dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=rng))
        images = torch.roll(images, shifts=(dy, dx), dims=(2, 3))
    if flip and bool(torch.rand(1, generator=rng) < 0.5):
        images = torch.flip(images, dims=(3,))
    return images


def weighted_total(terms: dict[str, torch.Tensor], weights: LossWeights) -> torch.Tensor:
    return sum(getattr(weights, name) * value for name, value in terms.items() if name != "fidelity")


def _rng_state(rng: torch.Generator) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "sampler": rng.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any], rng: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    rng.set_state(state["sampler"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def weights_digest(model: nn.Module) -> str:
    """A hash of a model's weights: a checkpoint made against other weights is not resumed."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def config_fingerprint(generator: ConditionedGenerator, classifier: nn.Module, config: InversionConfig) -> dict[str, Any]:
    """What must match for a checkpoint to be resumed (everything but the checkpoint cadence)."""
    run = dataclasses.asdict(config)
    run.pop("checkpoint_every")
    return {"generator": dataclasses.asdict(generator.config), "run": run, "classifier": weights_digest(classifier)}


def _check_data_parallel(config: InversionConfig) -> None:
    """Mode seeking's pairs must split evenly over the data-parallel processes."""
    _, world_size = distributed.world()
    if config.weights.mode_seeking and (config.batch_size // 2) % world_size:  # evenness: InversionConfig
        raise ValueError(
            f"mode seeking pairs the two halves of each batch: half of batch_size ({config.batch_size}) must be "
            f"divisible by the {world_size} data-parallel processes"
        )


def _resume(checkpoint: Path | None, fingerprint: dict[str, Any], generator: ConditionedGenerator,
            optimizer: torch.optim.Optimizer, rng: torch.Generator, extras: DataFreeTerms | None,
            device: torch.device) -> tuple[list[dict[str, float]], int]:
    """(history, first step): from the checkpoint when it holds a run with this fingerprint, whose
    generator, optimiser, data-free terms and random-number states are restored; else a fresh start."""
    state = load_checkpoint(checkpoint, CHECKPOINT_FORMAT, fingerprint, restart="step 0")
    if state is None:
        return [], 0
    generator.load_state_dict(state["generator"])
    optimizer.load_state_dict(state["optimizer"])
    if extras is not None:
        extras.load_state_dict(state.get("datafree") or {}, device)
    history, start = list(state["history"]), int(state["step"])
    _restore_rng(state["rng"], rng)
    log.info("resuming generator training from step %d (%s)", start, checkpoint)
    return history, start


def _record(step: int, loss: torch.Tensor, terms: dict[str, torch.Tensor]) -> dict[str, float]:
    """The history record of `step`: the loss and every term, averaged over the data-parallel ranks."""
    names = ["loss", *terms]
    values = distributed.all_sum(loss.item(), *(v.item() for v in terms.values()))
    return {"step": step, **{k: v / distributed.world()[1] for k, v in zip(names, values, strict=True)}}


def train_generator(
    generator: ConditionedGenerator,
    classifier: nn.Module,
    config: InversionConfig,
    device: torch.device,
    checkpoint: Path | None = None,
    progress: bool = True,
    on_log: Callable[[dict[str, float]], None] | None = None,
    log_every: int = 25,
    student: Callable[[], nn.Module] | None = None,
) -> list[dict[str, float]]:
    """Train `generator` so that `classifier` assigns each sample its intended label, diversely.

    `student` builds the adversarial term's student (default: the LeNet student). Returns
    the loss history (one record every `log_every` steps). Raises TrainingDivergedError on a
    NaN/inf loss, naming the step and what to lower.
    """
    _check_data_parallel(config)
    classifier = _frozen(classifier).to(device)
    generator.to(device).train()  # dropout stays on: it is a diversity mechanism
    forward = distributed.wrap(generator, device)
    rng = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    optimizer = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=(0.5, 0.999))
    extras = data_free_terms(config, generator, student, device)
    fingerprint = config_fingerprint(generator, classifier, config)
    history, start = _resume(checkpoint, fingerprint, generator, optimizer, rng, extras, device)
    bn_prior = BatchNormStatsPrior(classifier) if config.weights.bn else None
    started = time.perf_counter()
    try:
        with FeatureTap(classifier, config.feature_layers) as tap:
            bar = progress_of(range(start, config.generator_steps), "inversion", enabled=progress, initial=start,
                              total=config.generator_steps)
            for step in bar:
                terms, batch = inversion_losses(generator, classifier, tap, bn_prior, config, rng, device, forward,
                                                extras)
                loss = weighted_total(terms, config.weights)
                descend(loss, optimizer, config="InversionConfig", terms=terms,
                        diverged=f"inversion loss became {{loss}} at step {step + 1} (non-finite terms: {{bad}}); "
                                 f"lower the learning rate lr (now {config.lr}) or those terms' weights")
                if extras is not None:
                    extras.after_step(*batch)
                if (step + 1) % log_every == 0 or step + 1 == config.generator_steps:
                    record = _record(step + 1, loss, terms)
                    history.append(record)
                    bar.set_postfix(loss=f"{record['loss']:.3f}", fidelity=f"{record['fidelity']:.2f}")
                    if on_log is not None:
                        on_log(record)
                if checkpoint is not None and distributed.is_main() and ((step + 1) % config.checkpoint_every == 0 or step + 1 == config.generator_steps):
                    save_checkpoint(checkpoint, CHECKPOINT_FORMAT, fingerprint, step=step + 1, history=history,
                                    generator=generator.state_dict(), optimizer=optimizer.state_dict(),
                                    rng=_rng_state(rng), datafree=None if extras is None else extras.state_dict())
    finally:
        if bn_prior is not None:
            bn_prior.close()
    log.info("generator trained %d steps in %.1fs", config.generator_steps - start, time.perf_counter() - started)
    return history


@torch.no_grad()
def generate(generator: ConditionedGenerator, labels: torch.Tensor, temperature: float, seed: int,
             device: torch.device, batch_size: int = 500, dropout: bool = True) -> torch.Tensor:
    """Images (N, C, H, W) as uint8 for the intended `labels`.

    With `dropout=True` the generator samples as it was trained (dropout active, batch
    statistics in batch norm): dropout is part of how it spreads its outputs.
    """
    rng = torch.Generator().manual_seed(seed)
    generator.to(device).train(dropout)
    out = []
    for start in range(0, len(labels), batch_size):
        batch = labels[start : start + batch_size]
        cond = sample_conditioning(generator.config.mode, len(batch), generator.config.num_classes,
                                   temperature=temperature, generator=rng, labels=batch, device=device)
        z = generator.sample_latent(len(batch), generator=rng, device=device)
        out.append((generator(z, cond).float().clamp(0, 1) * 255).round().to(torch.uint8).cpu())
    generator.eval()
    return torch.cat(out)
