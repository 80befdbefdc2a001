"""OOD detection: the garbage-class loop, the post-hoc baselines and the OOD sets."""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal, get_args

from annotated_types import Ge, Gt, Le

from netinv.config import NonNegative, PositiveInt, config_dataclass

PoolRule = Literal["all", "uncertain"]
POOL_RULES: tuple[str, ...] = get_args(PoolRule)
PosthocMethod = Literal["msp", "maxlogit", "energy", "mahalanobis", "knn", "vim"]
POSTHOC_METHODS: tuple[str, ...] = get_args(PosthocMethod)
BuiltinSet = Literal["mnist", "gaussian", "uniform"]
BUILTIN_SETS: tuple[str, ...] = get_args(BuiltinSet)



@config_dataclass
class GarbageConfig:
    """The train-invert-add loop. Each round's generator gets its own `InversionConfig` (its
    budget and losses are the caller's choice): this config never rewrites it."""

    rounds: Annotated[int, Ge(0)] = 4
    initial_noise: PositiveInt = 2000  # half Gaussian, half uniform
    pool_per_round: PositiveInt = 1100  # inverted samples drawn per round, balanced over the n+1 classes
    pool_rule: PoolRule = "all"  # all | uncertain: keep the `uncertain_fraction` with the highest UE
    uncertain_fraction: Annotated[float, Gt(0), Le(1)] = 0.5
    sample_temperature: Annotated[float, Gt(0)] = 0.05
    init_from_classifier: bool = True  # start the (n+1)-class model from the classifier's weights
    batch_size: PositiveInt = 128
    lr: Annotated[float, Gt(0), Le(1)] = 5e-4
    weight_decay: NonNegative = 1e-4
    real_per_round: PositiveInt | None = 12000  # class-balanced cap on real images per epoch (None: all)
    pool_augment: bool = True  # random shifts and blur of pool images in every epoch
    closing_epoch: bool = True
    seed: int = 0


@config_dataclass
class PosthocConfig:
    """The post-hoc baselines fitted on the plain classifier."""

    posthoc_methods: tuple[PosthocMethod, ...] = POSTHOC_METHODS
    posthoc_fit_limit: PositiveInt | None = None  # class-balanced cap on training images to fit them (None: all)
    knn_k: PositiveInt = 50  # Sun et al. 2022 use 50 on CIFAR-10
    vim_dim: PositiveInt = 64  # ViM's principal subspace


@config_dataclass
class OodSetsConfig:
    """The OOD sets the detectors are scored on: built-in ones and the user's own files."""

    ood_sets: tuple[BuiltinSet, ...] = BUILTIN_SETS
    user_sets: dict[str, str] = field(default_factory=dict)  # name: path.npz (images uint8 N×H×W or N×C×H×W; resized with a warning)
    set_size: PositiveInt = 5000  # images per built-in set (mnist has 5,000)
