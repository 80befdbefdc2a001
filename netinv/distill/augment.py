"""Batch augmentation for distillation: what the teacher and the student both see."""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["cutmix"]


def cutmix(x: torch.Tensor, alpha: float, generator: torch.Generator) -> torch.Tensor:
    """CutMix (Yun et al. 2019) without labels: each image gets a box pasted from another image of
    the batch, the box's area 1 - lambda with lambda ~ Beta(alpha, alpha), one box per batch.

    For distillation, where the teacher labels whatever the student sees ("function matching",
    Beyer et al. 2022, "Knowledge distillation: A good teacher is patient and consistent"): the
    mixed images lie between the set's images, so a small fixed set spans more of the
    teacher's function. torchvision's `v2.CutMix` mixes labels as well and draws from the
    global random stream; here the teacher relabels and the draws come from `generator`.
    """
    b, _, h, w = x.shape
    lam = _beta(alpha, generator)
    cut_h, cut_w = int(h * math.sqrt(1.0 - lam)), int(w * math.sqrt(1.0 - lam))
    cy, cx = int(torch.randint(h, (1,), generator=generator)), int(torch.randint(w, (1,), generator=generator))
    y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
    x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
    partner = torch.randperm(b, generator=generator).to(x.device)
    mixed = x.clone()
    mixed[:, :, y0:y1, x0:x1] = x[partner, :, y0:y1, x0:x1]
    return mixed


def _beta(alpha: float, generator: torch.Generator) -> float:
    """One Beta(alpha, alpha) draw that follows `generator` (torch's Beta sampler has no generator)."""
    seed = int(torch.randint(2**62, (1,), generator=generator))
    return float(np.random.default_rng(seed).beta(alpha, alpha))
