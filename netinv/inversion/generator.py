"""The conditioned generator G(z, c) of Suhail, Tang, Sethi (2024).

One generator serves every class. Its architecture follows the papers' description:
latent plus conditioning code, a linear projection to a small map, up-sampling blocks
with batch norm and *heavy dropout* (the papers' diversity mechanism: it stays active
while G trains, so the same (z, c) maps to many images), and an output in the
classifier's input range. Up-sample + convolution rather than transposed convolution
avoids checkerboard artefacts.
"""

from __future__ import annotations

import torch
from torch import nn

from netinv.config.inversion import GeneratorConfig
from netinv.inversion.conditioning import (
    MATRIX_MODES,
    VECTOR_MODES,
    Conditioning,
    check_mode,
    label_matrix,
    matrices_are_distinct,
)
from netinv.models.io import register_architecture


def _up_block(c_in: int, c_out: int, dropout: float) -> nn.Sequential:
    """Doubles the map: nearest up-sampling, 3x3 conv, batch norm, leaky ReLU, dropout."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.LeakyReLU(0.2),
        nn.Dropout(dropout),
    )


class ConditionedGenerator(nn.Module):
    """G(z, c) -> (B, C, H, W) in [0, 1].

    Where the class enters, by mode:
    - label: ``nn.Embedding(labels)`` concatenated to z;
    - vector: ``Linear(K -> embed_dim)(p)`` concatenated to z (the integer label is never read);
    - matrix: z alone at the input; the label matrix joins the projected (H/4, W/4) map;
    - vector_matrix: both the soft-vector code and the matrix of ``argmax p``.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        check_mode(config.mode)
        height, width = config.image_size
        if height % 4 or width % 4 or height < 4 or width < 4:
            raise ValueError(
                f"generator image_size {tuple(config.image_size)} must have both sides divisible "
                "by 4 (two 2x up-sampling blocks from an H/4 x W/4 map); pad or resize the data "
                "to e.g. 28x28 or 32x32"
            )
        if config.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {config.num_classes}")
        if not 0.0 <= config.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {config.dropout}")
        self.config = config
        self.base_size = (height // 4, width // 4)
        self.uses_matrix = config.mode in MATRIX_MODES
        if self.uses_matrix and not matrices_are_distinct(config.num_classes, self.base_size):
            raise ValueError(
                f"at the generator's {self.base_size} base map the label matrices of "
                f"{config.num_classes} classes are not all distinct (each side must exceed "
                f"num_classes / 2 = {config.num_classes / 2}); use mode 'label' or 'vector', "
                "or larger images"
            )

        if config.mode == "label":
            self.label_code: nn.Module | None = nn.Embedding(config.num_classes, config.embed_dim)
        elif config.mode in VECTOR_MODES:
            self.label_code = nn.Linear(config.num_classes, config.embed_dim)
        else:
            self.label_code = None
        code_dim = config.embed_dim if self.label_code is not None else 0

        c0 = 2 * config.width
        self.project = nn.Linear(config.latent_dim + code_dim, c0 * self.base_size[0] * self.base_size[1])
        self.project_norm = nn.Sequential(nn.BatchNorm2d(c0), nn.LeakyReLU(0.2))
        self.up = nn.Sequential(
            _up_block(c0 + int(self.uses_matrix), config.width, config.dropout),
            # Half the channels at full resolution: most of the cost is here, little of the capacity.
            _up_block(config.width, config.width // 2, config.dropout),
        )
        self.to_image = nn.Sequential(nn.Conv2d(config.width // 2, config.out_channels, 3, padding=1), nn.Sigmoid())

    def sample_latent(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> torch.Tensor:
        """(B, latent_dim) ~ N(0, I), drawn on the generator's device and moved to ``device``."""
        source = generator.device if generator is not None else device
        z = torch.randn(batch_size, self.config.latent_dim, generator=generator, device=source)
        return z.to(device)

    def forward(self, z: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        self._check_inputs(z, cond)
        if self.config.mode == "label":
            inputs = torch.cat([z, self.label_code(cond.labels)], dim=1)  # (B, latent + embed)
        elif self.label_code is not None:
            inputs = torch.cat([z, self.label_code(cond.vectors)], dim=1)  # (B, latent + embed)
        else:
            inputs = z  # (B, latent): matrix mode, the class enters only through the matrix
        h = self.project(inputs).view(len(z), 2 * self.config.width, *self.base_size)  # (B, 2w, H/4, W/4)
        h = self.project_norm(h)
        if self.uses_matrix:
            # The matrix of argmax p, not of cond.labels: G stays a function of (z, p) alone.
            matrix = label_matrix(cond.vectors.argmax(dim=1), self.config.num_classes, self.base_size)
            h = torch.cat([h, matrix.to(h.dtype)], dim=1)  # (B, 2w + 1, H/4, W/4)
        return self.to_image(self.up(h))  # (B, C, H, W)

    def _check_inputs(self, z: torch.Tensor, cond: Conditioning) -> None:
        config = self.config
        if z.ndim != 2 or z.shape[1] != config.latent_dim:
            raise ValueError(f"z must have shape (B, {config.latent_dim}), got {tuple(z.shape)}")
        if cond.labels.shape != (len(z),):
            raise ValueError(f"cond.labels must have shape ({len(z)},), got {tuple(cond.labels.shape)}")
        if cond.vectors.shape != (len(z), config.num_classes):
            raise ValueError(
                f"cond.vectors must have shape ({len(z)}, {config.num_classes}), "
                f"got {tuple(cond.vectors.shape)}"
            )


register_architecture("generator", GeneratorConfig, ConditionedGenerator)
