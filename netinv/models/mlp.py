"""The held-out judge: an MLP, trained in its own stage and read by no sweep or default.

The evaluator (a residual CNN) is the judge that parameter sweeps read; a judge that
selection has read stops being independent of what it selected. This second judge, of
another family, is reported beside it and is never an input to any choice (docs/results.md, "Two judges").
"""

from __future__ import annotations

import math

import torch
from torch import nn

from netinv.config.models import MLPConfig
from netinv.models.normalize import Normalize


class MLPJudge(nn.Module):
    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = Normalize(config.mean, config.std)
        layers: list[nn.Module] = [nn.Flatten()]
        width = config.in_channels * math.prod(config.image_size)
        for hidden in config.hidden:
            layers += [nn.Linear(width, hidden), nn.GELU(), nn.Dropout(config.dropout)]
            width = hidden
        self.embedding = nn.Sequential(*layers)
        self.head = nn.Linear(width, config.num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, hidden[-1]) features."""
        return self.embedding(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
