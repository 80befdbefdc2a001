"""The classifiers' architectures, their supervised training and their ONNX export."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Gt, Le, Lt

from netinv.config import NonNegative, PositiveInt, Probability, config_dataclass


@config_dataclass
class CNNConfig:
    """The papers' CNN; the first three fields and the normalisation come from the data."""

    in_channels: PositiveInt
    image_size: tuple[PositiveInt, PositiveInt]
    num_classes: Annotated[int, Ge(2)]
    channels: tuple[PositiveInt, ...] = (32, 64)
    convs_per_block: PositiveInt = 1
    hidden: PositiveInt = 128
    dropout: Annotated[float, Ge(0), Lt(1)] = 0.25
    negative_slope: Annotated[float, Ge(0), Lt(1)] = 0.1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)


@config_dataclass
class ResNetConfig:
    """The judge's residual net; the first three fields and the normalisation come from the data."""

    in_channels: PositiveInt
    image_size: tuple[PositiveInt, PositiveInt]
    num_classes: Annotated[int, Ge(2)]
    width: PositiveInt = 24
    blocks_per_stage: PositiveInt = 1
    stages: PositiveInt = 3
    groups: PositiveInt = 8
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)


@config_dataclass
class TrainConfig:
    """Supervised training of a classifier (the model under audit, the judges, the OOD model's start)."""

    epochs: PositiveInt = 4
    batch_size: PositiveInt = 128
    lr: Annotated[float, Gt(0), Le(1)] = 3e-3
    weight_decay: NonNegative = 1e-4
    label_smoothing: Annotated[float, Ge(0), Lt(1)] = 0.0
    augment_shift: Annotated[int, Ge(0), Le(8)] = 0  # max random translation in pixels; 0 = no augmentation
    seed: int = 0


@config_dataclass
class ExportConfig:
    """The ONNX export and its parity gate, checked on the whole test set."""

    opset: Annotated[int, Ge(17), Le(23)] = 18
    max_abs_diff: Annotated[float, Gt(0)] = 1e-4  # largest |logit difference| onnxruntime vs PyTorch
    min_argmax_agreement: Probability = 1.0
    latency_repeats: PositiveInt = 200


@config_dataclass
class MLPConfig:
    """The held-out judge: a multilayer perceptron, a family apart from both convolutional nets.

    No convolution, no weight sharing, no pooling: what it recognises it recognises from the
    whole image's pixels, so a sample made to please a CNN's local filters does not carry
    over to it by construction. The first three fields and the normalisation come from the data.
    """

    in_channels: PositiveInt
    image_size: tuple[PositiveInt, PositiveInt]
    num_classes: Annotated[int, Ge(2)]
    hidden: tuple[PositiveInt, ...] = (512, 256)
    dropout: Annotated[float, Ge(0), Lt(1)] = 0.2
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
