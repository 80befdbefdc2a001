"""The evaluation network: an independent judge of generated samples.

It must not share the audited CNN's blind spots, so it differs in kind: residual
blocks, GELU, group norm, strided downsampling, global average pooling, and it is
trained with random translations. A sample that fools the CNN with an adversarial
pattern rarely fools this one; a sample that shows the class's features does.
"""

from __future__ import annotations

import torch
from torch import nn

from netinv.config.models import ResNetConfig
from netinv.models.normalize import Normalize


class _ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, groups: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.GroupNorm(groups, c_out),
            nn.GELU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.GroupNorm(groups, c_out),
        )
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.GroupNorm(groups, c_out))
        )
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class SmallResNet(nn.Module):
    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        self.normalize = Normalize(config.mean, config.std)
        width = config.width
        layers: list[nn.Module] = [
            nn.Conv2d(config.in_channels, width, 3, padding=1, bias=False),
            nn.GroupNorm(config.groups, width),
            nn.GELU(),
        ]
        for stage in range(config.stages):
            c_out = config.width * 2**stage
            for block in range(config.blocks_per_stage):
                stride = 2 if block == 0 else 1  # every stage halves the map
                layers.append(_ResidualBlock(width, c_out, stride, config.groups))
                width = c_out
        self.body = nn.Sequential(*layers)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(width, config.num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] -> (B, width * 2**(stages-1)) pooled features."""
        return self.pool(self.body(self.normalize(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
