"""OOD detection through inversion: an (n+1)-class classifier with a "garbage" class (method.md §3).

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
from netinv.errors import TrainingDivergedError
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.trainer import InversionConfig, generate, train_generator, weights_digest
from netinv.models import build_model
from netinv.ood.metrics import ood_metrics, uncertainty
from netinv.ood.sets import noise_images
from netinv.training import predict_logits, random_translate, to_float

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = "netinv.garbage-checkpoint/1"
POOL_RULES = ("all", "uncertain")


@dataclass(frozen=True)
class GarbageConfig:
    rounds: int = 4
    initial_noise: int = 2000  # half Gaussian, half uniform
    pool_per_round: int = 1100  # inverted samples drawn per round, balanced over the n+1 classes
    pool_rule: str = "all"  # all | uncertain: keep the `uncertain_fraction` with the highest UE
    uncertain_fraction: float = 0.5
    generator_steps: int = 100  # per round; the generator is warm-started across rounds
    sample_temperature: float = 0.05
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 1e-4
    real_per_round: int | None = None  # class-balanced cap on real images per epoch (None: all)
    pool_augment: bool = True  # random shifts and blur of pool images in every epoch
    closing_epoch: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pool_rule not in POOL_RULES:
            raise ValueError(f"unknown pool_rule {self.pool_rule!r}; valid: {', '.join(POOL_RULES)}")
        if not 0 < self.uncertain_fraction <= 1:
            raise ValueError(f"uncertain_fraction must lie in (0, 1], got {self.uncertain_fraction}")
        if self.rounds < 0 or self.initial_noise < 1 or self.pool_per_round < 1:
            raise ValueError("rounds must be >= 0, initial_noise and pool_per_round >= 1")


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


def garbage_model_from(classifier: nn.Module, init_from_classifier: bool = True) -> nn.Module:
    """A "cnn" with the classifier's architecture and n+1 outputs (garbage last); its weights copied
    from the classifier when `init_from_classifier`, else freshly initialised."""
    config = dataclasses.asdict(classifier.config)
    n = config.pop("num_classes")
    model = build_model("cnn", num_classes=n + 1, **config)
    if init_from_classifier:
        state = {k: v for k, v in classifier.state_dict().items() if not k.startswith("head.")}
        model.load_state_dict(state, strict=False)
        with torch.no_grad():
            model.head.weight[:n] = classifier.head.weight
            model.head.bias[:n] = classifier.head.bias
            # A constant garbage logit below every real bias: it rejects (almost) nothing before
            # training, and the start is deterministic, so a checkpoint of it can be resumed.
            model.head.weight[n] = 0.0
            model.head.bias[n] = classifier.head.bias.min() - 1.0
    return model.eval()


def select_pool(probs: np.ndarray, rule: str, fraction: float) -> np.ndarray:
    """Indices of inverted samples to add: all, or the `fraction` with the highest UE(p) (ties by index)."""
    if rule == "all":
        return np.arange(len(probs))
    if rule == "uncertain":
        keep = max(1, math.ceil(fraction * len(probs)))
        order = np.argsort(-uncertainty(probs), kind="stable")
        return np.sort(order[:keep])
    raise ValueError(f"unknown pool_rule {rule!r}; valid: {', '.join(POOL_RULES)}")


@torch.no_grad()
def class_probs(model: nn.Module, images: np.ndarray, device: torch.device) -> np.ndarray:
    logits = torch.from_numpy(predict_logits(model, images, device))
    return torch.softmax(logits, dim=1).numpy()


def garbage_scores(probs: np.ndarray) -> dict[str, np.ndarray]:
    """OOD scores (higher = more OOD) from the (n+1)-class probabilities, garbage last.

    garbage: p(garbage). garbage_ue: the method's rule "OOD when assigned to garbage, or by
    UE": inputs whose argmax is garbage score 1 + p(garbage), above every accepted input,
    the others score UE(p) in [0, 1].
    """
    garbage = probs[:, -1]
    rejected = probs.argmax(1) == probs.shape[1] - 1
    return {"garbage": garbage.astype(np.float64),
            "garbage_ue": np.where(rejected, 1.0 + garbage, uncertainty(probs))}


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
        if not torch.isfinite(loss):
            raise TrainingDivergedError(f"garbage-model loss became {loss.item()}; lower ood.lr (now {config.lr})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
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
    probe_noise = np.concatenate([noise_images("gaussian", 250, shape, config.seed + 7),
                                  noise_images("uniform", 250, shape, config.seed + 8)])
    half = config.initial_noise // 2
    noise = np.concatenate([noise_images("gaussian", half, shape, config.seed + 1),
                            noise_images("uniform", config.initial_noise - half, shape, config.seed + 2)])
    pool = GarbagePool(noise, np.zeros(len(noise), dtype=np.int64), np.full(len(noise), -1, dtype=np.int64))
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history = [{"round": 0, "pool_size": float(len(pool)), "added": float(len(pool)), "seconds": 0.0,
                **probe(model, probe_images, probe_labels, probe_noise, device)}]
    start = 1
    state = load_checkpoint(checkpoint, CHECKPOINT_FORMAT, fingerprint, restart="round 0")
    if state is not None:
        model.load_state_dict(state["model"])
        generator.load_state_dict(state["generator"])
        optimizer.load_state_dict(state["optimizer"])
        pool = GarbagePool(state["pool_images"].numpy(), state["pool_rounds"].numpy(), state["pool_intended"].numpy())
        history, start = list(state["history"]), int(state["round"]) + 1
        log.info("resuming the garbage-class loop after round %d (%s)", start - 1, checkpoint)
    for r in range(start, config.rounds + 1):
        started = time.perf_counter()
        record = {"round": r, **train_epoch(model, images, labels, pool, config, optimizer,
                                            config.seed + r, device)}
        frozen = copy.deepcopy(model).eval()  # train_generator freezes what it inverts
        train_generator(generator, frozen, dataclasses.replace(inversion, steps=config.generator_steps,
                                                               seed=inversion.seed + r),
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
            save_checkpoint(checkpoint, CHECKPOINT_FORMAT, fingerprint, round=r, model=model.state_dict(),
                  generator=generator.state_dict(), optimizer=optimizer.state_dict(),
                  pool_images=torch.from_numpy(pool.images), pool_rounds=torch.from_numpy(pool.rounds),
                  pool_intended=torch.from_numpy(pool.intended), history=history)
    if config.closing_epoch:  # with rounds = 0: a garbage class trained on noise alone
        started = time.perf_counter()
        record = {"round": config.rounds + 1, **train_epoch(model, images, labels, pool, config, optimizer,
                                                            config.seed + config.rounds + 1, device)}
        record.update({"added": 0.0, "pool_size": float(len(pool)),
                       **probe(model, probe_images, probe_labels, probe_noise, device),
                       "seconds": time.perf_counter() - started})
        history.append(record)
    return GarbageResult(model.eval(), pool, history)
