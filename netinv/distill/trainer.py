"""Training a fresh student on a source's images with the teacher's soft labels (Hinton et al. 2015).

The loss is KL(student / T || teacher / T) * T^2 on each augmented batch: the teacher
answers on exactly what the student sees (the shifted, CutMix-ed batch), as in DAFL (Chen
et al. 2019), DeepInversion (Yin et al. 2020), CMI (Fang et al. 2021) and the "function
matching" of Beyer et al. (2022). No labels are read: the
intended labels of the samples are not used, so a sample the teacher does not recognise
teaches what the teacher does say about it. Accuracy is measured on the validation split
(what any selection may read) and on the test split (what is reported).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from netinv.config.distill import DistillConfig, StudentConfig
from netinv.device import autocast
from netinv.distill.augment import cutmix
from netinv.distill.sources import Source
from netinv.models.student import LeNetStudent
from netinv.progress import progress
from netinv.training import descend, kd_loss, predict_logits, random_translate, to_float

Split = tuple[np.ndarray, np.ndarray]  # uint8 images (N, C, H, W), int labels (N,)

__all__ = ["DistillResult", "Split", "accuracy", "distill", "kd_loss", "new_student"]


@dataclass(frozen=True)
class DistillResult:
    """val_accuracy: what a selection may read; test_accuracy: what is reported, read by nothing."""

    val_accuracy: float
    test_accuracy: float
    seconds: float
    history: list[dict[str, float]]  # step, loss, val_accuracy, seconds: the learning curve


def new_student(config: StudentConfig, seed: int) -> LeNetStudent:
    """A fresh student with the same initial weights for a given seed, whatever the source:
    the controls differ from the samples in their images only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LeNetStudent(config)


def accuracy(model: nn.Module, split: Split, device: torch.device) -> float:
    images, labels = split
    return float((predict_logits(model, images, device).argmax(1) == labels).mean())


def _batch(source: Source, config: DistillConfig, rng: torch.Generator, augment_rng: torch.Generator,
           device: torch.device) -> torch.Tensor:
    x = source(config.batch_size, rng)
    x = to_float(x) if x.dtype == torch.uint8 else x.float()
    if config.augment_shift > 0:
        x = random_translate(x, config.augment_shift, augment_rng)
    if config.cutmix > 0:
        x = cutmix(x, config.cutmix, augment_rng)
    return x.to(device, non_blocking=True)


def distill(teacher: nn.Module, source: Source, val: Split, test: Split, student: StudentConfig,
            config: DistillConfig, device: torch.device, progress_lines: bool = True) -> DistillResult:
    """Train a fresh student of `student`'s architecture on `source` alone for `config.steps`
    AdamW steps (one-cycle schedule) and measure it on `val` and `test`. The teacher is frozen.
    `progress_lines=False` keeps the bar on a terminal but logs no progress lines elsewhere."""
    started = time.perf_counter()
    model = new_student(student, config.seed).to(device).train()
    teacher.to(device).eval()
    rng = torch.Generator().manual_seed(config.seed)  # the source's draws
    augment_rng = torch.Generator().manual_seed(config.seed + 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.steps)
    history: list[dict[str, float]] = []
    loss_sum, seen = 0.0, 0
    bar = progress(range(1, config.steps + 1), "distill", leave=False, lines=10 if progress_lines else 0)
    for step in bar:
        x = _batch(source, config, rng, augment_rng, device)
        with torch.no_grad(), autocast(device):
            target = teacher(x).float()
        with autocast(device):
            loss = kd_loss(model(x).float(), target, config.temperature)
        descend(loss, optimizer, scheduler, config="DistillConfig",
                diverged=f"distillation loss became {{loss}} at step {step}; lower the learning rate (lr is {config.lr})")
        loss_sum, seen = loss_sum + loss.item(), seen + 1
        if step % config.eval_every == 0 or step == config.steps:
            history.append({"step": step, "loss": loss_sum / seen, "val_accuracy": accuracy(model, val, device),
                            "seconds": time.perf_counter() - started})
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", val=f"{history[-1]['val_accuracy']:.3f}")
            loss_sum, seen = 0.0, 0
            model.train()
    return DistillResult(val_accuracy=history[-1]["val_accuracy"], test_accuracy=accuracy(model, test, device),
                         seconds=time.perf_counter() - started, history=history)
