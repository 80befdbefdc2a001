"""Drawing the released samples from a trained generator: a fixed number per class.

Sampling has its own settings because what makes training work (a soft conditioning
vector at temperature 0.5) is not what makes the best prototypes: a sharper vector gives
samples that both the classifier and the independent judge recognise more often.
"""

from __future__ import annotations

import numpy as np
import torch

from netinv.config.inversion import SamplingConfig
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.trainer import generate


def sample_balanced(generator: ConditionedGenerator, config: SamplingConfig, seed: int,
                    device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """`samples_per_class` samples of every class: uint8 images (N, C, H, W) and int64 intended labels."""
    labels = torch.arange(generator.config.num_classes).repeat_interleave(config.samples_per_class)
    images = generate(generator, labels, config.sample_temperature, seed, device, dropout=config.sample_with_dropout)
    return images.numpy(), labels.numpy().astype(np.int64)
