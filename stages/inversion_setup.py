"""From the `invert` params section to the core's generator and training configs.

Shared by the `invert` and `ablation` stages; kept out of stages/config.py so that the
other stages do not depend (for DVC) on the inversion code.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from netinv.inversion.generator import ConditionedGenerator, GeneratorConfig
from netinv.inversion.losses import LossWeights
from netinv.inversion.trainer import InversionConfig, generate
from stages.config import InvertParams


def build_generator(cfg: InvertParams, num_classes: int, image_shape: tuple[int, int, int]) -> ConditionedGenerator:
    channels, height, width = image_shape
    return ConditionedGenerator(GeneratorConfig(
        num_classes=num_classes, out_channels=channels, image_size=(height, width), mode=cfg.mode,
        latent_dim=cfg.latent_dim, width=cfg.width, dropout=cfg.dropout, embed_dim=cfg.embed_dim))


def inversion_config(cfg: InvertParams, seed: int, **overrides: object) -> InversionConfig:
    config = InversionConfig(
        steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, temperature=cfg.temperature,
        feature_layers=tuple(cfg.feature_layers), same_class_cosine=cfg.same_class_cosine,
        weights=LossWeights(**cfg.weights.model_dump()), jitter=cfg.jitter, flip=cfg.flip,
        checkpoint_every=cfg.checkpoint_every, seed=seed)
    return dataclasses.replace(config, **overrides)


def sample_balanced(generator: ConditionedGenerator, cfg: InvertParams, per_class: int, seed: int,
                    device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` samples of every class, drawn as the `invert` params say (temperature, dropout):
    uint8 images (N, C, H, W) and int64 intended labels."""
    labels = torch.arange(generator.config.num_classes).repeat_interleave(per_class)
    images = generate(generator, labels, cfg.sample_temperature, seed, device, dropout=cfg.sample_with_dropout)
    return images.numpy(), labels.numpy().astype(np.int64)
