"""The classifier under audit: the papers' CNN (conv, batch norm, leaky ReLU, dropout, FC head).

Every model here exposes `embed(x)` (the penultimate features, used by the diversity
losses and the feature-space metrics) and `forward(x) = head(embed(x))` (the logits).
"""

from __future__ import annotations

import torch
from torch import nn

from netinv.config.models import CNNConfig
from netinv.errors import ConfigError
from netinv.models.normalize import Normalize


def _conv_block(c_in: int, c_out: int, convs: int, slope: float, dropout: float) -> nn.Sequential:
    """`convs` 3x3 convolutions (batch norm, leaky ReLU) then a 2x2 max-pool: halves the size."""
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [
            nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.LeakyReLU(slope),
        ]
    return nn.Sequential(*layers, nn.MaxPool2d(2), nn.Dropout2d(dropout / 2))


class CNNClassifier(nn.Module):
    def __init__(self, config: CNNConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = Normalize(config.mean, config.std)
        blocks, c_in = [], config.in_channels
        height, width = config.image_size
        for c_out in config.channels:
            blocks.append(_conv_block(c_in, c_out, config.convs_per_block, config.negative_slope, config.dropout))
            c_in, height, width = c_out, height // 2, width // 2
        if height < 1 or width < 1:
            raise ConfigError(
                f"{len(config.channels)} conv blocks halve a {config.image_size} image to nothing; "
                "use fewer channels",
                field="channels", config="CNNConfig",
            )
        self.features = nn.Sequential(*blocks)
        self.embedding = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * height * width, config.hidden),
            nn.BatchNorm1d(config.hidden),
            nn.LeakyReLU(config.negative_slope),
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden, config.num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, hidden) penultimate features."""
        return self.embedding(self.features(self.normalize(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))
