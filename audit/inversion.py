"""The audit's first checks: invert the model under audit, measure the samples, validate them.

The generator takes the profile's budget (`audit.profiles.NAME.invert` over `invert`); the
samples are measured with netinv.metrics.inversion against the judge and real test images,
and validated with validate_samples' suite under the profile's thresholds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from audit.config import AuditProfile
from audit.model import AuditModel
from netinv.config.inversion import InversionConfig, SamplingConfig
from netinv.device import seed_everything
from netinv.export import onnx_session
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.sampling import sample_balanced
from netinv.inversion.trainer import train_generator
from netinv.metrics.inversion import inversion_quality
from netinv.metrics.quality import embed_and_predict
from netinv.splits import Prepared
from netinv.validation.samples import (
    nearest_same_class_distance,
    pixel_mean_partition,
    sample_checks,
    sample_table,
)
from netinv.validation.suite import run_checks
from stages.config import Params, generator_config


@dataclass
class Inversion:
    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray  # int64 (N,)
    history: list[dict[str, float]]
    seconds: float
    quality: dict[str, Any]


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def real_reference(data: Prepared, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `per_class` test images of every class (the real side of diversity / coverage)."""
    rows = np.concatenate([np.flatnonzero(data.test.labels == c)[:per_class] for c in np.unique(data.test.labels)])
    return data.test.images[rows], data.test.labels[rows]


def invert(model: AuditModel, evaluator: nn.Module, data: Prepared, params: Params, profile_name: str,
           device: torch.device) -> Inversion:
    """Train a generator against the model under audit, sample it class-balanced, measure the samples."""
    profile = params.audit.get_profile(profile_name)
    cfg = params.audit_invert(profile_name)
    if cfg.weights.bn and not has_batch_norm(model.module):  # ONNX export folds batch norm into the convolutions
        cfg = cfg.overridden({"weights": {"bn": 0.0}}, "the audit of a model without batch norm")
    seed_everything(params.seed)
    generator = ConditionedGenerator(generator_config(cfg, len(data.class_names), data.image_shape))
    started = time.perf_counter()
    history = train_generator(generator, model.module, cfg.build(InversionConfig, seed=params.seed), device,
                              progress=False)
    seconds = time.perf_counter() - started
    images, labels = sample_balanced(generator, cfg.build(SamplingConfig), params.seed + 1, device)
    real_images, real_labels = real_reference(data, profile.real_per_class)
    session = onnx_session(model.onnx_path) if model.onnx_path is not None else None
    quality = inversion_quality(images, labels, model.module, evaluator, real_images, real_labels,
                                len(data.class_names), device, onnx_session=session, seed=params.seed,
                                control_images=data.train.images, control_labels=data.train.labels)
    return Inversion(images, labels, history, seconds, quality)


def validate(inversion: Inversion, model: AuditModel, evaluator: nn.Module, data: Prepared,
             profile: AuditProfile) -> dict[str, Any]:
    """The generated-samples suite (validate_samples) with the profile's thresholds."""
    device = torch.device("cpu")
    _, classifier_logits = embed_and_predict(model.module, inversion.images, device=device)
    _, eval_logits = embed_and_predict(evaluator, inversion.images, device=device)
    table = sample_table(inversion.images, inversion.labels, classifier_logits, eval_logits)
    real_images, real_labels = real_reference(data, int(np.bincount(inversion.labels).max()))
    real_distance = float(np.nanmean(nearest_same_class_distance(real_images, real_labels)))
    checks = sample_checks(len(data.class_names), profile.checks, pixel_mean_partition(data.train.images),
                           real_distance)
    return run_checks(table, checks, "audit_samples").as_dict()
