"""The audit's first checks: invert the model under audit, measure the samples, validate them.

The generator takes the profile's budget (`audit.profiles.NAME.invert` over `invert`); the
samples are measured with netinv.metrics.inversion against both judges and real test images,
and validated with validate_samples' suite under the profile's thresholds. The set-level
gates on the held-out judge and coverage are audit.verdict's (`audit_gates`).
"""

from __future__ import annotations

import copy
import logging
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
from netinv.inversion.data_prior import add_data_stats_probes
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.sampling import sample_balanced
from netinv.inversion.trainer import train_generator
from netinv.metrics.inversion import inversion_quality
from netinv.metrics.quality import embed_and_predict
from netinv.splits import Prepared, first_per_class
from netinv.validation.samples import (
    nearest_same_class_distance,
    pixel_mean_partition,
    sample_checks,
    sample_table,
)
from netinv.validation.suite import run_checks
from stages.config import InvertParams, Params, generator_config

log = logging.getLogger(__name__)
PRIOR_PER_CLASS = 100  # real training images per class behind the probes' statistics


@dataclass
class Inversion:
    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray  # int64 (N,)
    history: list[dict[str, float]]
    seconds: float
    quality: dict[str, Any]


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def has_conv(module: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in module.modules())


def prior_images(data: Prepared, per_class: int = PRIOR_PER_CLASS) -> np.ndarray:
    """The first `per_class` training images of every class: the real data behind a data-stats prior."""
    return data.train.images[first_per_class(data.train.labels, per_class)]


def inversion_target(model: nn.Module, cfg: InvertParams, data: Prepared) -> tuple[nn.Module, InvertParams, str]:
    """The module the generator trains against, the (possibly overridden) config and the prior's source.

    Batch norm folded away by the ONNX export leaves no statistics for the BN prior: a copy of the
    model gets identity probes after its convolutions and hidden linear layers, carrying the
    statistics of real training images (netinv.inversion.data_prior), so the same prior applies;
    the model itself stays untouched. A model without convolutions keeps the prior off."""
    if not cfg.weights.bn:
        return model, cfg, "off"
    if has_batch_norm(model):
        return model, cfg, "model"
    if not has_conv(model):
        cfg = cfg.overridden({"weights": {"bn": 0.0}}, "the audit of a model without batch norm or convolutions")
        return model, cfg, "off"
    probed = copy.deepcopy(model)
    images = prior_images(data)
    count = add_data_stats_probes(probed, images)
    log.info("model without batch norm: the BN prior uses the statistics of %d layer outputs on %d real "
             "training images", count, len(images))
    return probed, cfg, "data"


def real_reference(data: Prepared, per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `per_class` test images of every class (the real side of diversity / coverage)."""
    rows = first_per_class(data.test.labels, per_class)
    return data.test.images[rows], data.test.labels[rows]


def invert(model: AuditModel, evaluator: nn.Module, heldout: nn.Module, data: Prepared, params: Params,
           profile_name: str, device: torch.device) -> Inversion:
    """Train a generator against the model under audit, sample it class-balanced, measure the samples
    (with `heldout`, the held-out judge: `eval_agreement_heldout`)."""
    profile = params.audit.get_profile(profile_name)
    cfg = params.audit_invert(profile_name)
    target, cfg, bn_prior = inversion_target(model.module, cfg, data)  # ONNX export folds batch norm away
    seed_everything(params.seed)
    generator = ConditionedGenerator(generator_config(cfg, len(data.class_names), data.image_shape))
    started = time.perf_counter()
    history = train_generator(generator, target, cfg.build(InversionConfig, seed=params.seed), device,
                              progress=False)
    seconds = time.perf_counter() - started
    images, labels = sample_balanced(generator, cfg.build(SamplingConfig), params.seed + 1, device)
    real_images, real_labels = real_reference(data, profile.real_per_class)
    session = onnx_session(model.onnx_path) if model.onnx_path is not None else None
    quality = inversion_quality(images, labels, model.module, evaluator, real_images, real_labels,
                                len(data.class_names), device, onnx_session=session, seed=params.seed,
                                control_images=data.train.images, control_labels=data.train.labels,
                                heldout=heldout)
    quality["bn_prior"] = bn_prior  # "model" | "data" | "off": where the BN prior's statistics came from
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
