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

    sizes: Annotated[tuple[PositiveInt, ...], MinLen(1)] = (100, 1000)  # one target per class-balanced subset (10000: +~9 min)
    control: Literal["train", "val"] = "train"  # held-out control of the same size and classes: rest of train | val
    ssim_threshold: Annotated[float, Gt(-1), Lt(1)] = 0.4  # Hungarian matching: recovered above this SSIM
    bootstrap: Annotated[int, Ge(100)] = 1000  # resamples of the gap's confidence interval


ReconstructionMethod = Literal["kkt", "generator"]
Margin = Literal["logsumexp", "max"]
ControlSplit = Literal["test", "val", "train"]


@config_dataclass
class KKTConfig:
    """The KKT (implicit-bias) attack of Haim et al. 2022 / Buzaglo et al. 2023 (netinv.reconstruction.kkt).

    Candidates start at the data mean plus `init_scale` noise; `smooth_beta` is the slope of
    the sigmoid that replaces ReLU's derivative while attacking (the papers' "modified ReLU").
    """

    steps: PositiveInt = 1000  # optimiser steps on all candidates at once
    margin: Margin = "logsumexp"  # true logit minus logsumexp | max of the others (decoreco: max)
    lr: Annotated[float, Gt(0)] = 0.01  # candidates' Adam step (cosine-decayed; pixels clamped to [0, 1])
    lambda_lr: Annotated[float, Gt(0)] = 0.02  # coefficients' Adam step
    lambda_min: NonNegative = 0.5  # penalty (lambda_min - lambda)_+^2 keeps every candidate a support vector
    init_scale: NonNegative = 1e-3  # candidates' initial distance from the data mean
    smooth_beta: Annotated[float, Gt(0)] = 20.0  # derivative of ReLU replaced by sigmoid(beta * z) while attacking
    seed: int = 0


@config_dataclass
class PositiveControlConfig:
    """A target chosen to memorise (Haim et al. 2022; Buzaglo et al. 2023): a ReLU MLP from small
    initialisation with weight decay, trained full-batch to a stationary point of its loss."""

    enabled: bool = True
    per_class: PositiveInt = 1  # training images per class (1: the only size measured to meet the target)
    width: PositiveInt = 1000  # hidden units per layer
    depth: Annotated[int, Ge(1), Le(4)] = 2  # hidden layers (the papers: 784-1000-1000-classes)
    init_scale: NonNegative = 1e-3  # std of every layer's initial weights (memorizer.train_memorizer)
    weight_decay: NonNegative = 5e-3  # makes the trained weights a combination of margin gradients (Buzaglo et al.)
    epochs: PositiveInt = 1000  # full-batch Adam steps
    lr: Annotated[float, Gt(0), Le(1)] = 1e-3
    candidates_per_image: PositiveInt = 2  # KKT candidates per training image (the papers: twice as many)
    attack: KKTConfig = field(default_factory=KKTConfig)


@config_dataclass
class AuditedModelConfig:
    """The attack on the audited classifier itself, kept cheap: a sample of its training split as the
    matching pool, as many held-out images as the control, a bounded bank of candidates."""

    enabled: bool = True
    pool_per_class: PositiveInt = 100  # training images per class matched against (and as many control images)
    candidates_per_class: PositiveInt = 10
    attack: KKTConfig = field(default_factory=lambda: KKTConfig(steps=200))


@config_dataclass
class RecoveryConfig:
    """How the positive control and the audited model are attacked and matched (netinv.reconstruction.recovery)."""

    method: ReconstructionMethod = "kkt"  # kkt: the implicit-bias attack | generator: today's prior-based bank
    control_split: ControlSplit = "test"  # held-out images of the same classes: test | val | rest of train
    recovered_threshold: Annotated[float, Gt(-1), Lt(1)] = 0.6  # a training image is recovered above this SSIM
