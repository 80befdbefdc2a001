"""OOD detection through inversion: an (n+1)-class classifier with a "garbage" class (docs/method.md,
"Out-of-distribution detection").

The loop (Suhail, Tang, Sethi 2025, "Network Inversion for Uncertainty-Aware OOD Detection"):
1. the garbage pool starts as noise (Gaussian and uniform);
2. each round: one epoch on the real data plus the pool (labelled garbage) with
   class-weighted cross-entropy; then the current classifier is inverted for all n+1
   classes with the conditioned generator (warm-started across rounds); the inverted
   samples join the pool, all of them or only the most uncertain ones (`pool_rule`);
3. after the last round a closing epoch trains on the final pool, so every inverted
   sample is used.
Each round is checkpointed atomically; a killed run resumes after its last finished round.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from netinv.checkpoint import load_checkpoint, save_checkpoint
from netinv.config.inversion import InversionConfig
from netinv.config.ood import POOL_RULES, GarbageConfig
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.trainer import generate, train_generator, weights_digest
from netinv.ood.garbage_model import class_probs
from netinv.ood.metrics import ood_metrics, uncertainty
from netinv.ood.sets import noise_images
from netinv.training import descend, random_translate, to_float

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = "netinv.garbage-checkpoint/1"




@dataclass
class GarbagePool:
    """Images labelled garbage: uint8 (N, C, H, W), the round that added each (0 = noise), and the
    class the generator was asked for (-1 for noise)."""

    images: np.ndarray
    rounds: np.ndarray
    intended: np.ndarray

    def add(self, images: np.ndarray, round_index: int, intended: np.ndarray) -> None:
        self.images = np.concatenate([self.images, images])
        self.rounds = np.concatenate([self.rounds, np.full(len(images), round_index, dtype=np.int64)])
        self.intended = np.concatenate([self.intended, intended.astype(np.int64)])

    def __len__(self) -> int:
        return len(self.images)


def select_pool(probs: np.ndarray, rule: str, fraction: float) -> np.ndarray:
    """Indices of inverted samples to add: all, or the `fraction` with the highest UE(p) (ties by index)."""
    if rule == "all":
        return np.arange(len(probs))
    if rule == "uncertain":
        keep = max(1, math.ceil(fraction * len(probs)))
        order = np.argsort(-uncertainty(probs), kind="stable")
        return np.sort(order[:keep])
    raise ValueError(f"unknown pool_rule {rule!r}; valid: {', '.join(POOL_RULES)}")


def augment_pool(x: torch.Tensor, is_pool: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Random ±2 px shifts and, for half of them, a 3x3 blur, on the pool images of a batch only."""
    if not bool(is_pool.any()):
        return x
    pool = random_translate(x[is_pool], 2, rng)
    blur = torch.rand(len(pool), generator=rng) < 0.5
    if bool(blur.any()):
        pool[blur] = F.avg_pool2d(pool[blur], 3, stride=1, padding=1, count_include_pad=False)
    x = x.clone()
    x[is_pool] = pool
    return x


def balanced_subset(labels: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    classes = np.unique(labels)
    per_class = max(1, limit // len(classes))
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in classes]))


def train_epoch(model: nn.Module, images: np.ndarray, labels: np.ndarray, pool: GarbagePool,
                config: GarbageConfig, optimizer: torch.optim.Optimizer, seed: int,
                device: torch.device) -> dict[str, float]:
    """One epoch over (a subset of) the real data plus the whole pool, class-weighted CE."""
    n = int(model.config.num_classes) - 1
    np_rng = np.random.default_rng(seed)
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # dropout
    real = balanced_subset(labels, config.real_per_round, np_rng)
    x_all = torch.from_numpy(np.concatenate([images[real], pool.images]))  # (N, C, H, W) uint8
    y_all = torch.from_numpy(np.concatenate([labels[real], np.full(len(pool), n)])).long()
    counts = torch.bincount(y_all, minlength=n + 1).float().clamp_min(1)
    weights = (len(y_all) / ((n + 1) * counts)).to(device)  # sklearn's "balanced" class weights
    model.to(device).train()
    order = torch.randperm(len(y_all), generator=rng)
    loss_sum, seen = 0.0, 0
    for start in range(0, len(order), config.batch_size):
        idx = order[start : start + config.batch_size]
        x, y = to_float(x_all[idx]), y_all[idx]
        if config.pool_augment:
            x = augment_pool(x, y == n, rng)
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x).float(), y, weight=weights)
        descend(loss, optimizer, config="GarbageConfig",
                diverged=f"garbage-model loss became {{loss}}; lower the learning rate lr (now {config.lr})")
        loss_sum += loss.item() * len(y)
        seen += len(y)
    model.eval()
    return {"train_loss": loss_sum / seen, "epoch_images": float(len(y_all))}


def probe(model: nn.Module, id_images: np.ndarray, id_labels: np.ndarray, noise: np.ndarray,
          device: torch.device) -> dict[str, float]:
    """Separability of noise from ID data by p(garbage), ID accuracy over the n real classes, rejection."""
    id_probs, noise_probs = class_probs(model, id_images, device), class_probs(model, noise, device)
    n = id_probs.shape[1] - 1
    return {
        "noise_auroc": ood_metrics(id_probs[:, -1], noise_probs[:, -1])["auroc"],
        "noise_rejected": float(np.mean(noise_probs.argmax(1) == n)),
        "id_accuracy": float(np.mean(id_probs[:, :n].argmax(1) == id_labels)),
        "id_rejected": float(np.mean(id_probs.argmax(1) == n)),
    }


def _fingerprint(model: nn.Module, generator: ConditionedGenerator, config: GarbageConfig,
                 inversion: InversionConfig, num_images: int) -> dict[str, Any]:
    run = dataclasses.asdict(config)
    run.pop("rounds")  # a finished shorter run is resumed by a longer one: rounds are seeded one by one
    run.pop("closing_epoch")
    return {"config": run, "inversion": dataclasses.asdict(inversion),
            "generator": dataclasses.asdict(generator.config), "model": weights_digest(model),
            "num_images": num_images}


def _starting_noise(shape: tuple[int, ...], config: GarbageConfig) -> tuple[np.ndarray, GarbagePool]:
    """(noise that probes each round, the pool of round 0): fresh Gaussian and uniform noise, half each."""
    probe_noise = np.concatenate([noise_images("gaussian", 250, shape, config.seed + 7),
                                  noise_images("uniform", 250, shape, config.seed + 8)])
    half = config.initial_noise // 2
    noise = np.concatenate([noise_images("gaussian", half, shape, config.seed + 1),
                            noise_images("uniform", config.initial_noise - half, shape, config.seed + 2)])
    pool = GarbagePool(noise, np.zeros(len(noise), dtype=np.int64), np.full(len(noise), -1, dtype=np.int64))
    return probe_noise, pool


def _resume(checkpoint: Path | None, fingerprint: dict[str, Any], model: nn.Module,
            generator: ConditionedGenerator, optimizer: torch.optim.Optimizer, pool: GarbagePool,
            history: list[dict[str, float]]) -> tuple[GarbagePool, list[dict[str, float]], int]:
    """(pool, history, first round): from the checkpoint when it holds a loop with this fingerprint,
    whose model, generator and optimiser states are restored; else the given ones and round 1."""
    state = load_checkpoint(checkpoint, CHECKPOINT_FORMAT, fingerprint, restart="round 0")
    if state is None:
        return pool, history, 1
    model.load_state_dict(state["model"])
    generator.load_state_dict(state["generator"])
    optimizer.load_state_dict(state["optimizer"])
    pool = GarbagePool(state["pool_images"].numpy(), state["pool_rounds"].numpy(), state["pool_intended"].numpy())
    history, start = list(state["history"]), int(state["round"]) + 1
    log.info("resuming the garbage-class loop after round %d (%s)", start - 1, checkpoint)
    return pool, history, start


def _save(checkpoint: Path, fingerprint: dict[str, Any], r: int, model: nn.Module, generator: ConditionedGenerator,
          optimizer: torch.optim.Optimizer, pool: GarbagePool, history: list[dict[str, float]]) -> None:
    """Everything the loop needs to resume after round `r`."""
    save_checkpoint(checkpoint, CHECKPOINT_FORMAT, fingerprint, round=r, model=model.state_dict(),
                    generator=generator.state_dict(), optimizer=optimizer.state_dict(),
                    pool_images=torch.from_numpy(pool.images), pool_rounds=torch.from_numpy(pool.rounds),
                    pool_intended=torch.from_numpy(pool.intended), history=history)


@dataclass
class GarbageResult:
    model: nn.Module
    pool: GarbagePool
    history: list[dict[str, float]]


def train_garbage_model(model: nn.Module, generator: ConditionedGenerator, images: np.ndarray,
                        labels: np.ndarray, probe_images: np.ndarray, probe_labels: np.ndarray,
                        config: GarbageConfig, inversion: InversionConfig, device: torch.device,
                        checkpoint: Path | None = None) -> GarbageResult:
    """Run the train–invert–add loop on `model` ((n+1) outputs, garbage last) in place.

    `probe_images` (held-out ID data) and fresh noise measure, after each round, how well
    p(garbage) separates noise from ID data (`history`). A checkpoint at `checkpoint` from the
    same parameters and starting weights is resumed after its last finished round.
    """
    num_classes = int(model.config.num_classes)
    if generator.config.num_classes != num_classes:
        raise ValueError(f"the generator has {generator.config.num_classes} classes, the garbage model "
                         f"{num_classes}: build the generator for n+1 classes")
    shape = tuple(images.shape[1:])
    fingerprint = _fingerprint(model, generator, config, inversion, len(images))
    probe_noise, pool = _starting_noise(shape, config)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history = [{"round": 0, "pool_size": float(len(pool)), "added": float(len(pool)), "seconds": 0.0,
                **probe(model, probe_images, probe_labels, probe_noise, device)}]
    pool, history, start = _resume(checkpoint, fingerprint, model, generator, optimizer, pool, history)
    for r in range(start, config.rounds + 1):
        started = time.perf_counter()
        record = {"round": r, **train_epoch(model, images, labels, pool, config, optimizer,
                                            config.seed + r, device)}
        frozen = copy.deepcopy(model).eval()  # train_generator freezes what it inverts
        train_generator(generator, frozen, dataclasses.replace(inversion, seed=inversion.seed + r),
                        device, progress=False)
        intended = torch.arange(num_classes).repeat_interleave(math.ceil(config.pool_per_round / num_classes))
        inverted = generate(generator, intended, config.sample_temperature, config.seed + 100 + r, device).numpy()
        probs = class_probs(model, inverted, device)
        keep = select_pool(probs, config.pool_rule, config.uncertain_fraction)
        pool.add(inverted[keep], r, intended.numpy()[keep])
        record.update({
            "inverted_fidelity": float(np.mean(probs.argmax(1) == intended.numpy())),
            "inverted_rejected": float(np.mean(probs.argmax(1) == num_classes - 1)),
            "inverted_ue": float(uncertainty(probs).mean()),
            "added": float(len(keep)), "pool_size": float(len(pool)),
            **probe(model, probe_images, probe_labels, probe_noise, device),
            "seconds": time.perf_counter() - started,
        })
        history.append(record)
        log.info("round %d/%d: pool %d (+%d), inverted rejected %.2f, noise AUROC %.3f, ID accuracy %.3f "
                 "(%.0fs)", r, config.rounds, len(pool), len(keep), record["inverted_rejected"],
                 record["noise_auroc"], record["id_accuracy"], record["seconds"])
        if checkpoint is not None:
            _save(checkpoint, fingerprint, r, model, generator, optimizer, pool, history)
    if config.closing_epoch:  # with rounds = 0: a garbage class trained on noise alone
        started = time.perf_counter()
        record = {"round": config.rounds + 1, **train_epoch(model, images, labels, pool, config, optimizer,
                                                            config.seed + config.rounds + 1, device)}
        record.update({"added": 0.0, "pool_size": float(len(pool)),
                       **probe(model, probe_images, probe_labels, probe_noise, device),
                       "seconds": time.perf_counter() - started})
        history.append(record)
    return GarbageResult(model.eval(), pool, history)
