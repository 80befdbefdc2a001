"""One reconstruction attack, whichever method, then both kinds of matching against training and control.

`make_attack` turns a method name into `Attack(model, mean_image, labels) -> (uint8 images,
summary)`: "kkt" (netinv.reconstruction.kkt, the implicit-bias attack of Haim et al. 2022 /
Buzaglo et al. 2023) or "generator" (netinv.reconstruction.reconstruct, the prior-based
bank of the leakage study). `attack_and_match` runs it on a model and measures the result
both ways: the leakage gap of every reconstruction (netinv.reconstruction.matching) and the
papers' recovered fractions of training vs control images (netinv.reconstruction.recovery).
The positive control and the audited model share it, so their numbers mean the same.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from netinv.config.inversion import GeneratorConfig
from netinv.config.reconstruction import KKTConfig, ReconstructionConfig, RecoveryConfig
from netinv.inversion.generator import ConditionedGenerator
from netinv.reconstruction.kkt import kkt_attack
from netinv.reconstruction.matching import leakage
from netinv.reconstruction.reconstruct import reconstruct
from netinv.reconstruction.recovery import recovery

Attack = Callable[[nn.Module, torch.Tensor, np.ndarray], tuple[np.ndarray, dict[str, float]]]


def make_attack(method: str, kkt: KKTConfig, device: torch.device, generator: GeneratorConfig | None = None,
                reconstruction: ReconstructionConfig | None = None) -> Attack:
    """The attack `method` ("kkt" | "generator"; the latter needs `generator` and `reconstruction`)."""
    if method == "kkt":
        return lambda model, mean_image, labels: kkt_attack(model, mean_image, labels, kkt, device)
    if method != "generator":
        raise ValueError(f"unknown reconstruction method {method!r}: use 'kkt' or 'generator'")
    if generator is None or reconstruction is None:
        raise ValueError("the 'generator' method needs a GeneratorConfig and a ReconstructionConfig")

    def generate(model: nn.Module, mean_image: torch.Tensor, labels: np.ndarray) -> tuple[np.ndarray, dict]:
        counts = np.bincount(labels, minlength=generator.num_classes)
        cfg = dataclasses.replace(reconstruction, per_class=int(counts.max()))
        started = time.perf_counter()
        images, recon_labels, history = reconstruct(ConditionedGenerator(generator), model, cfg, device)
        keep = np.concatenate([np.flatnonzero(recon_labels == c)[:n] for c, n in enumerate(counts)])
        return images[keep], {"final_loss": history[-1]["loss"], "reconstruct_seconds": time.perf_counter() - started}

    return generate


def candidate_labels(counts: np.ndarray, per_image: int) -> np.ndarray:
    """Class labels of the candidates: `per_image` times each class's count, in class order."""
    return np.repeat(np.arange(len(counts)), np.asarray(counts) * per_image).astype(np.int64)


def attack_and_match(model: nn.Module, attack: Attack, labels: np.ndarray, train: tuple[np.ndarray, np.ndarray],
                     control: tuple[np.ndarray, np.ndarray], recovery_cfg: RecoveryConfig, bootstrap: int,
                     seed: int) -> dict[str, Any]:
    """Attack `model` for candidates of `labels`, match against (images, labels) of `train` and `control`.

    Candidates start from the mean of the training images (the attacker's only prior).
    Returns `images`, `labels` (the reconstructions), `per_image` (recovery's arrays),
    `train_nearest` / `control_nearest` (per reconstruction, the index into `train` / `control`
    of its best match) with `train_ssim` / `control_ssim`, and `metrics` (leakage gap and
    recovered fractions).
    """
    mean_image = torch.as_tensor(train[0]).float().mean(0) / 255.0
    images, summary = attack(model, mean_image, labels)
    started = time.perf_counter()
    gap = leakage(images, labels, *train, *control, bootstrap=bootstrap, seed=seed, details=True)
    per = gap.pop("per_reconstruction")
    found = recovery(images, labels, *train, *control, recovery_cfg.recovered_threshold, bootstrap, seed)
    with torch.no_grad():
        device = next(model.parameters()).device
        probs = torch.softmax(model(torch.as_tensor(images, device=device).float() / 255.0), 1).cpu().numpy()
    metrics = {**gap, **{k: v for k, v in found.items() if k != "per_image"}, **summary,
               "recon_confidence_mean": float(probs[np.arange(len(labels)), labels].mean()),
               "method": recovery_cfg.method, "control_split": recovery_cfg.control_split,
               "match_seconds": time.perf_counter() - started}
    return {"images": images, "labels": labels, "per_image": found["per_image"],
            "train_nearest": per["train"]["index"], "train_ssim": per["train"]["ssim"],
            "control_nearest": per["control"]["index"], "control_ssim": per["control"]["ssim"], "metrics": metrics}
