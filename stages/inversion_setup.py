"""From the `invert` params section to the core's generator and training configs.

Shared by the `invert` and `ablation` stages; kept out of stages/config.py so that the
other stages do not depend (for DVC) on the inversion code.
"""

from __future__ import annotations

import dataclasses

from netinv.inversion.generator import ConditionedGenerator, GeneratorConfig
from netinv.inversion.losses import LossWeights
from netinv.inversion.trainer import InversionConfig
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
