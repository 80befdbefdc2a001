"""Training-data reconstruction: targets, the objective, and the leakage study's design."""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal, get_args

from annotated_types import Ge, Gt, Le, Lt, MinLen

from netinv.config import NonNegative, PositiveInt, config_dataclass

Perturbation = Literal["gaussian", "uniform", "shift"]
PERTURBATIONS: tuple[str, ...] = get_args(Perturbation)



@config_dataclass
class TargetConfig:
    """A target classifier: the papers' CNN, small, no dropout, no augmentation, so that it may memorise."""

    channels: tuple[PositiveInt, ...] = (16, 32)
    hidden: PositiveInt = 64
    dropout: Annotated[float, Ge(0), Lt(1)] = 0.0
    train_steps: PositiveInt = 400  # optimiser steps, whatever the size (epochs = steps / batches per epoch)
    batch_size: PositiveInt = 64
    lr: Annotated[float, Gt(0), Le(1)] = 3e-3
    weight_decay: NonNegative = 0.0


@config_dataclass
class ReconstructionWeights:
    """One weight per term; 0 switches a term off (and skips its cost)."""

    confidence: NonNegative = 1.0
    robustness: NonNegative = 1.0
    grad_norm: NonNegative = 1.0
    tv: NonNegative = 0.05
    range: NonNegative = 0.0
    cos: NonNegative = 0.0
    orth: NonNegative = 0.0
    bn: NonNegative = 0.0


@config_dataclass
class ReconstructionConfig:
    """Optimising a bank of reconstructions (one fixed latent each) against a trained target."""

    per_class: PositiveInt = 20  # reconstructions per class
    recon_steps: PositiveInt = 100  # optimiser steps on the whole bank
    lr: Annotated[float, Gt(0), Le(1)] = 0.01
    batch_size: PositiveInt | None = None  # None: the whole bank every step (batch norm then sees what it generates)
    perturbation: Perturbation = "gaussian"  # the robustness term's perturbation
    epsilon: NonNegative = 0.05
    copies: PositiveInt = 1
    grad_groups: PositiveInt = 1  # weight-gradient norm over this many chunks of the batch
    feature_layers: tuple[str, ...] = ("embedding",)
    weights: ReconstructionWeights = field(default_factory=ReconstructionWeights)
    seed: int = 0


@config_dataclass
class LeakageStudyConfig:
    """Which training-set sizes to audit, against which control, and how reconstructions are matched."""

    sizes: Annotated[tuple[PositiveInt, ...], MinLen(1)] = (100, 1000, 10000)  # one target per class-balanced subset
    control: Literal["train", "val"] = "train"  # held-out control of the same size and classes: rest of train | val
    ssim_threshold: Annotated[float, Gt(-1), Lt(1)] = 0.4  # Hungarian matching: recovered above this SSIM
    bootstrap: Annotated[int, Ge(100)] = 1000  # resamples of the gap's confidence interval
