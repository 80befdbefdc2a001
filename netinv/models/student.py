"""The distillation student: a LeNet-style CNN, another family than the classifier under audit.

The classifier is the papers' CNN (3x3 convolutions, batch norm, leaky ReLU, max-pool,
dropout). The student shares none of these choices: 5x5 unpadded convolutions, ReLU,
average pooling, no normalisation layers (LeCun et al. 1998). What it learns from the
classifier's answers on generated samples must then be carried by the samples, not by an
architecture that happens to share the teacher's inductive biases (the cross-architecture
test of DeepInversion, Yin et al. 2020). Like every model here it exposes `embed(x)` and
`forward(x) = head(embed(x))` and takes raw [0, 1] pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from netinv.config.distill import KERNEL, MIN_SIDE, StudentConfig
from netinv.models.normalize import Normalize


def _side(size: int) -> int:
    """A side's length after conv 5 (unpadded) -> avg-pool 2, twice."""
    for _ in range(2):
        size = (size - KERNEL + 1) // 2
    return size


def _padding(image_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zeros that bring a side below MIN_SIDE up to it: the student then
    works on any image size (the inversion's adversary must, whatever the audited model takes)."""
    height, width = image_size
    dh, dw = max(0, MIN_SIDE - height), max(0, MIN_SIDE - width)
    return (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2)


class LeNetStudent(nn.Module):
    def __init__(self, config: StudentConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = Normalize(config.mean, config.std)
        c1, c2 = config.student_channels
        self.features = nn.Sequential(
            nn.Conv2d(config.in_channels, c1, KERNEL), nn.ReLU(), nn.AvgPool2d(2),
            nn.Conv2d(c1, c2, KERNEL), nn.ReLU(), nn.AvgPool2d(2),
        )
        height, width = (max(side, MIN_SIDE) for side in config.image_size)  # smaller images are zero-padded
        self.padding = _padding(config.image_size)
        width = c2 * _side(height) * _side(width)
        layers: list[nn.Module] = [nn.Flatten()]
        for hidden in config.student_hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.embedding = nn.Sequential(*layers)
        self.head = nn.Linear(width, config.num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, student_hidden[-1]) penultimate features."""
        x = self.normalize(x)
        if any(self.padding):
            x = F.pad(x, self.padding)
        return self.embedding(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
