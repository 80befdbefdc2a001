"""The leakage study: for each training-set size, a target trained on a class-balanced subset,
reconstructions from it, and how much closer they are to that subset than to a held-out
control of the same size and classes (netinv.reconstruction.matching).

`LeakageStudyConfig` is the study's design (sizes, control, matching); `audit_size` runs one
size and returns its arrays and metrics; `leakage_rows` is the table of the headline numbers,
one row per size.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from netinv.config.inversion import GeneratorConfig
from netinv.config.reconstruction import LeakageStudyConfig, ReconstructionConfig, TargetConfig
from netinv.data import ImageDataset
from netinv.device import seed_everything
from netinv.inversion.generator import ConditionedGenerator
from netinv.reconstruction.matching import leakage
from netinv.reconstruction.reconstruct import reconstruct
from netinv.reconstruction.subsets import subset_and_control
from netinv.reconstruction.target import train_target
from netinv.splits import Prepared
from netinv.training import predict_logits

log = logging.getLogger(__name__)
MONITOR_IMAGES = 50  # validation images `fit` scores after every epoch (hundreds of epochs at size 100)
LEAKAGE_COLUMNS = ("size", "leakage_gap", "gap_ci_low", "gap_ci_high", "ssim_train_mean", "ssim_control_mean",
                   "matched_frac_train", "matched_frac_control")




def control_split(data: Prepared, control: str) -> ImageDataset:
    """The split the control images of `control` ("train" | "val") are drawn from."""
    return data.train if control == "train" else data.val


def _accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray, device: torch.device) -> float:
    return float((predict_logits(model, images, device).argmax(1) == labels).mean())


def _target(size: int, data: Prepared, images: np.ndarray, labels: np.ndarray, config: TargetConfig, seed: int,
            device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    """The target trained on (images, labels), with its accuracies, epochs and seconds."""
    started = time.perf_counter()
    target, history = train_target(
        images, labels, data.val.images[:MONITOR_IMAGES], data.val.labels[:MONITOR_IMAGES],
        num_classes=len(data.class_names), mean=data.meta["mean"], std=data.meta["std"], config=config, seed=seed,
        device=device)
    seconds = time.perf_counter() - started
    test_accuracy = _accuracy(target, data.test.images, data.test.labels, device)
    train_accuracy = _accuracy(target, images, labels, device)
    log.info("size %d: target trained %d epochs in %.1fs, train accuracy %.3f, test accuracy %.3f",
             size, len(history), seconds, train_accuracy, test_accuracy)
    return target, {"target_train_accuracy": train_accuracy, "target_test_accuracy": test_accuracy,
                    "target_epochs": len(history), "target_seconds": seconds}


def audit_size(size: int, data: Prepared, *, study: LeakageStudyConfig, target: TargetConfig,
               generator: GeneratorConfig, reconstruction: ReconstructionConfig, seed: int,
               device: torch.device) -> dict[str, Any]:
    """Train a target on `size` images, reconstruct, match: arrays and metrics for one size.

    Seeds every random-number generator with `seed + size` first; the subsets are drawn with
    `seed + size`, the target trained with `seed`, the reconstructions made with
    `reconstruction` at seed `seed + size` (its own seed is replaced) by a fresh generator of
    architecture `generator` (built for this data), the leakage measured with `seed`.
    Returns `images`, `labels` (the reconstructions), `train_indices`, `control_indices`,
    `train_nearest` / `control_nearest` (each reconstruction's best match, an index into the
    training / control split) with their SSIM (`train_ssim`, `control_ssim`), and `metrics`.
    """
    seed_everything(seed + size)
    controls = control_split(data, study.control)
    train_idx, control_idx = subset_and_control(
        data.train.labels, size, seed + size, len(data.class_names),
        control_labels=None if study.control == "train" else data.val.labels)
    train_images, train_labels = data.train.images[train_idx], data.train.labels[train_idx]
    control_images, control_labels = controls.images[control_idx], controls.labels[control_idx]
    model, trained = _target(size, data, train_images, train_labels, target, seed, device)

    started = time.perf_counter()
    recons, recon_labels, recon_history = reconstruct(
        ConditionedGenerator(generator), model, dataclasses.replace(reconstruction, seed=seed + size), device)
    recon_seconds = time.perf_counter() - started

    started = time.perf_counter()
    result = leakage(recons, recon_labels, train_images, train_labels, control_images, control_labels,
                     threshold=study.ssim_threshold, bootstrap=study.bootstrap, seed=seed, details=True)
    match_seconds = time.perf_counter() - started
    per = result.pop("per_reconstruction")
    recon_confidence = torch.softmax(torch.from_numpy(predict_logits(model, recons, device)), 1)
    metrics = {
        **result,
        "control_split": study.control,
        "size": size,
        **{k: trained[k] for k in ("target_train_accuracy", "target_test_accuracy", "target_epochs")},
        "recon_confidence_mean": float(recon_confidence[np.arange(len(recons)), recon_labels].mean()),
        "final_loss": recon_history[-1]["loss"],
        "target_seconds": trained["target_seconds"],
        "reconstruct_seconds": recon_seconds,
        "match_seconds": match_seconds,
    }
    log.info("size %d: SSIM train %.3f vs control %.3f, gap %.4f [%.4f, %.4f], recovered %.3f vs %.3f "
             "(reconstruction %.0fs, matching %.0fs)", size, metrics["ssim_train_mean"],
             metrics["ssim_control_mean"], metrics["leakage_gap"], metrics["gap_ci_low"], metrics["gap_ci_high"],
             metrics["matched_frac_train"], metrics["matched_frac_control"], recon_seconds, match_seconds)
    return {"images": recons, "labels": recon_labels, "train_indices": train_idx, "control_indices": control_idx,
            "train_nearest": train_idx[per["train"]["index"]], "train_ssim": per["train"]["ssim"],
            "control_nearest": control_idx[per["control"]["index"]], "control_ssim": per["control"]["ssim"],
            "metrics": metrics}


def leakage_rows(metrics: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row of the headline numbers (LEAKAGE_COLUMNS) per size's metrics: the leakage table."""
    return [{k: m[k] for k in LEAKAGE_COLUMNS} for m in metrics]
