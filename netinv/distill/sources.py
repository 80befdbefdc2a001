"""What a student learns from: a batch-drawing callable over a fixed set, noise, or a live generator.

A source is `draw(batch_size, rng) -> images` (B, C, H, W), uint8 or float in [0, 1], on
the CPU. The trainer does not know which one it has, so the samples, the online
generator and both controls go through exactly the same recipe (netinv.distill.trainer).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from netinv.inversion.conditioning import balanced_labels
from netinv.inversion.trainer import generate

Source = Callable[[int, torch.Generator], torch.Tensor]

__all__ = ["Source", "fixed_source", "generator_source", "noise_images"]


def fixed_source(images: np.ndarray) -> Source:
    """Batches drawn uniformly, with replacement, from a fixed uint8 set (N, C, H, W).

    The released samples and both controls (real images of the same count, noise) use this
    one sampler: over ~100 passes, drawing with replacement equals shuffled epochs in
    effect, and no epoch boundary ties the step budget to the set's size.
    """
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"a fixed source needs uint8 images (N, C, H, W), got {images.dtype} {images.shape}; "
                         "pass the `images` array of a samples file or a prepared split")
    if len(images) == 0:
        raise ValueError("a fixed source needs at least one image, got an empty array")
    pool = torch.from_numpy(np.ascontiguousarray(images))

    def draw(batch_size: int, rng: torch.Generator) -> torch.Tensor:
        return pool[torch.randint(len(pool), (batch_size,), generator=rng)]

    return draw


def noise_images(count: int, shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """`count` images of i.i.d. uniform uint8 pixels: the floor, a set that carries no knowledge
    of the data beyond what the teacher's answers on noise reveal."""
    return np.random.default_rng(seed).integers(0, 256, size=(count, *shape), dtype=np.uint8)


def generator_source(generator: nn.Module, temperature: float, dropout: bool, device: torch.device) -> Source:
    """Fresh samples every step (the online mode of DAFL / Fast-Datafree, with a frozen generator).

    Labels are class-balanced in every batch; conditioning, latents and dropout are drawn
    exactly as for the released samples (`generate`, at the sampling temperature), and the
    images are rounded to uint8 as those are. No gradient flows into the generator.
    """
    num_classes = generator.config.num_classes

    def draw(batch_size: int, rng: torch.Generator) -> torch.Tensor:
        labels = balanced_labels(batch_size, num_classes, rng)
        seed = int(torch.randint(2**62, (1,), generator=rng))
        return generate(generator, labels, temperature, seed, device, batch_size=batch_size, dropout=dropout)

    return draw
