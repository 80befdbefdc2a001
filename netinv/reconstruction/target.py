"""Target classifiers for the leakage audit: the papers' CNN trained on a small subset.

Small targets trained long, without augmentation or dropout, memorise their training
images: the setting in which reconstruction can recover them. The number of epochs follows
from a fixed budget of optimisation steps, so that 100 and 10,000 images both get trained
to convergence at a similar cost.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from netinv.config.models import TrainConfig
from netinv.config.reconstruction import TargetConfig
from netinv.models import build_model
from netinv.training import EpochRecord, fit


def epochs_for(size: int, batch_size: int, steps: int, min_epochs: int = 1) -> int:
    """Epochs that give about `steps` optimiser steps on `size` images."""
    return max(min_epochs, math.ceil(steps / math.ceil(size / batch_size)))




def train_target(images: np.ndarray, labels: np.ndarray, val_images: np.ndarray, val_labels: np.ndarray, *,
                 num_classes: int, mean: list[float], std: list[float], config: TargetConfig, seed: int,
                 device: torch.device) -> tuple[nn.Module, list[EpochRecord]]:
    """A CNN (netinv.models 'cnn') fitted to (images, labels) for about `train_steps` steps; eval mode."""
    torch.manual_seed(seed)
    _, c, h, w = images.shape
    model = build_model("cnn", in_channels=c, image_size=(h, w), num_classes=num_classes,
                        channels=tuple(config.channels), hidden=config.hidden, dropout=config.dropout,
                        mean=tuple(mean), std=tuple(std))
    batch = min(config.batch_size, len(images))
    train = TrainConfig(epochs=epochs_for(len(images), batch, config.train_steps), batch_size=batch, lr=config.lr,
                        weight_decay=config.weight_decay, augment_shift=0, seed=seed)
    history = fit(model, images, labels, val_images, val_labels, train, device, progress=False)
    return model.eval(), history
