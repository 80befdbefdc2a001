"""The positive control and the audited model: the attack where leakage must be found, and where it matters.

`positive_control`: a class-balanced subset of the training split, a MemorizingMLP trained on
it (netinv.reconstruction.memorizer), attacked and matched against a held-out control of the
same size and classes (netinv.reconstruction.attacks). An audit whose attack finds nothing
here cannot call any other model safe.

`audited_model`: the same attack on the real classifier, matched against a class-balanced
sample of its own training split (the pool) and as many held-out images. The classifier saw
every training image, so any pool image is a member; the sample only bounds the cost.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from netinv.config.reconstruction import AuditedModelConfig, PositiveControlConfig, RecoveryConfig
from netinv.data import ImageDataset
from netinv.reconstruction.attacks import Attack, attack_and_match, candidate_labels
from netinv.reconstruction.memorizer import train_memorizer
from netinv.reconstruction.recovery import verdict
from netinv.reconstruction.subsets import class_counts, subset_and_control
from netinv.splits import Prepared

log = logging.getLogger(__name__)


def control_images(data: Prepared, split: str) -> ImageDataset:
    """The split held-out control images are drawn from: "test" | "val" | "train" (its unused part)."""
    return {"test": data.test, "val": data.val, "train": data.train}[split]


def _draw(data: Prepared, per_class: int, split: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, control indices into `split`), `per_class` of every class each."""
    classes = len(data.class_names)
    return subset_and_control(data.train.labels, per_class * classes, seed, classes,
                              control_labels=None if split == "train" else control_images(data, split).labels)


def _finish(result: dict[str, Any], subject: str, train_idx: np.ndarray, control_idx: np.ndarray,
            started: float) -> dict[str, Any]:
    """Indices into the splits, the verdict and the total time added to an `attack_and_match` result."""
    m = result["metrics"]
    m["size"] = len(train_idx)
    m["verdict"] = verdict(subject, m, len(train_idx))
    m["seconds"] = time.perf_counter() - started
    result["train_nearest"] = train_idx[result["train_nearest"]]
    result["control_nearest"] = control_idx[result["control_nearest"]]
    log.info("%s (%.0fs)", m["verdict"], m["seconds"])
    return {**result, "train_indices": train_idx, "control_indices": control_idx}


def positive_control(data: Prepared, config: PositiveControlConfig, recovery: RecoveryConfig, attack: Attack,
                     bootstrap: int, seed: int, device: torch.device) -> dict[str, Any]:
    """Train the memorising MLP on `per_class` images per class, attack it, match: arrays and metrics."""
    started = time.perf_counter()
    train_idx, control_idx = _draw(data, config.per_class, recovery.control_split, seed)
    controls = control_images(data, recovery.control_split)
    train = (data.train.images[train_idx], data.train.labels[train_idx])
    model, trained = train_memorizer(*train, len(data.class_names), config, seed, device)
    with torch.no_grad():
        test = torch.as_tensor(data.test.images, device=device).float() / 255.0
        trained["target_test_accuracy"] = float(
            (torch.cat([model(b) for b in test.split(2000)]).argmax(1).cpu().numpy() == data.test.labels).mean())
    labels = candidate_labels(class_counts(len(train_idx), len(data.class_names)), config.candidates_per_image)
    result = attack_and_match(model, attack, labels, train, (controls.images[control_idx],
                                                              controls.labels[control_idx]),
                              recovery, bootstrap, seed)
    result["metrics"].update(trained)
    return _finish(result, "Positive control (an MLP trained to memorise)", train_idx, control_idx, started)


def audited_model(model: nn.Module, data: Prepared, config: AuditedModelConfig, recovery: RecoveryConfig,
                  attack: Attack, bootstrap: int, seed: int) -> dict[str, Any]:
    """Attack the audited classifier, match against `pool_per_class` of its training images per class."""
    if recovery.control_split == "train":
        raise ValueError("the audited model was trained on the whole training split, so its control cannot come "
                         "from there: draw the control from 'test' or 'val' (control_split)")
    started = time.perf_counter()
    train_idx, control_idx = _draw(data, config.pool_per_class, recovery.control_split, seed)
    controls = control_images(data, recovery.control_split)
    labels = candidate_labels(np.ones(len(data.class_names), dtype=np.int64), config.candidates_per_class)
    result = attack_and_match(model, attack, labels, (data.train.images[train_idx], data.train.labels[train_idx]),
                              (controls.images[control_idx], controls.labels[control_idx]), recovery, bootstrap,
                              seed)
    return _finish(result, "Audited classifier", train_idx, control_idx, started)
