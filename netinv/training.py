"""Supervised training of a classifier on uint8 images: one plain loop, readable in a screen.

Images stay uint8 on the device and are scaled to [0, 1] per batch, so a 60k-image
dataset costs 47 MB instead of 188 MB and the model sees exactly what ONNX users send.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from netinv import distributed
from netinv.config.models import TrainConfig
from netinv.device import autocast
from netinv.errors import TrainingDivergedError
from netinv.progress import progress as progress_of


def descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer,
            scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, *, diverged: str, config: str,
            field: str = "lr", terms: dict[str, torch.Tensor] | None = None,
            inputs: Sequence[torch.Tensor] | None = None) -> None:
    """One update: refuse a non-finite `loss`, then zero, backward (into `inputs` only, when
    given), step and schedule.

    Every training loop here goes through it, so that a NaN stops each of them the same way:
    before the weights take it, with a TrainingDivergedError whose message, `diverged` with
    `{loss}` (and `{bad}`, the non-finite names among `terms`) filled in, names what to lower.
    The check agrees across data-parallel ranks, so that no rank is left waiting.
    """
    if not distributed.all_finite(loss):
        bad = [name for name, value in (terms or {}).items() if not torch.isfinite(value).all()]
        raise TrainingDivergedError(diverged.format(loss=loss.item(), bad=bad), field=field, config=config)
    optimizer.zero_grad(set_to_none=True)
    loss.backward(inputs=inputs)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def to_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 in [0, 1]: the input contract of every model here."""
    return batch.float().div_(255.0)


def random_translate(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to `max_shift` pixels (zero fill); cheap augmentation for small images."""
    b, _, h, w = x.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (b, 2), generator=generator).float()
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = shifts[:, 0] * 2 / w
    theta[:, 1, 2] = shifts[:, 1] * 2 / h
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(softmax(t / T) || softmax(s / T)) * T^2, the batch mean; T^2 keeps the gradients' scale
    independent of T (Hinton et al. 2015, section 2). The imitation loss of every student here:
    the distillation stage's and the inversion's adversary."""
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    teacher = F.softmax(teacher_logits / temperature, dim=1)
    return F.kl_div(log_student, teacher, reduction="batchmean") * temperature**2


@torch.no_grad()
def predict_logits(model: nn.Module, images: np.ndarray, device: torch.device, batch_size: int = 512) -> np.ndarray:
    """Logits (N, K) for uint8 images (N, C, H, W), in eval mode."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        batch = to_float(torch.from_numpy(images[start : start + batch_size]).to(device))
        with autocast(device):
            out.append(model(batch).float().cpu())
    return torch.cat(out).numpy()


def _epoch_record(model: nn.Module, val_images: np.ndarray, val_labels: np.ndarray, device: torch.device,
                  epoch: int, train_sums: Sequence[float], started: float) -> EpochRecord:
    """The epoch's record: training loss and accuracy from their sums over all ranks, then the validation pass."""
    loss_sum, correct, seen = train_sums
    val_logits = torch.from_numpy(predict_logits(model, val_images, device))
    val_y = torch.from_numpy(val_labels).long()
    return EpochRecord(
        epoch=epoch,
        train_loss=loss_sum / seen,
        train_accuracy=correct / seen,
        val_loss=F.cross_entropy(val_logits, val_y).item(),
        val_accuracy=(val_logits.argmax(1) == val_y).float().mean().item(),
        seconds=time.perf_counter() - started,
    )


def fit(model: nn.Module, train_images: np.ndarray, train_labels: np.ndarray, val_images: np.ndarray,
        val_labels: np.ndarray, config: TrainConfig, device: torch.device, progress: bool = True,
        on_epoch: Callable[[EpochRecord], None] | None = None) -> list[EpochRecord]:
    """Train with AdamW + one-cycle LR; return one record per epoch. Stops on NaN/inf loss.

    Under torchrun each rank trains on its share of every global batch of `batch_size`
    (netinv.distributed); the records are totals over all ranks.
    """
    generator = torch.Generator().manual_seed(config.seed)  # data order: identical on every rank
    augment_rng = torch.Generator().manual_seed(config.seed + 1 + distributed.world()[0])
    model.to(device)
    trained = distributed.wrap(model, device)
    x_all = torch.from_numpy(train_images)  # (N, C, H, W) uint8, shuffled per epoch on CPU
    y_all = torch.from_numpy(train_labels).long()
    steps_per_epoch = math.ceil(len(x_all) / config.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch
    )
    history: list[EpochRecord] = []
    step = 0
    for epoch in range(1, config.epochs + 1):
        trained.train()
        started = time.perf_counter()
        order = torch.randperm(len(x_all), generator=generator)
        loss_sum, correct, seen = 0.0, 0, 0
        # Off a terminal no lines: the caller logs one per epoch (on_epoch).
        bar = progress_of(range(steps_per_epoch), f"epoch {epoch}/{config.epochs}", enabled=progress, lines=0,
                          leave=False)
        for i in bar:
            idx = distributed.shard(order[i * config.batch_size : (i + 1) * config.batch_size])
            x = to_float(x_all[idx])
            if config.augment_shift > 0:
                x = random_translate(x, config.augment_shift, augment_rng)
            x, y = x.to(device, non_blocking=True), y_all[idx].to(device, non_blocking=True)
            with autocast(device):
                logits = trained(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
            step += 1
            descend(loss, optimizer, scheduler, config="TrainConfig",
                    diverged=f"training loss became {{loss}} at epoch {epoch}, step {step}; lower the learning "
                             f"rate (lr is {config.lr}) or check the input data for NaNs")
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        record = _epoch_record(model, val_images, val_labels, device, epoch,
                               distributed.all_sum(loss_sum, correct, seen), started)
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
    model.eval()
    return history
