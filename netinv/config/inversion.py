"""Network inversion: the conditioned generator, its training and how samples are drawn."""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal, Self, get_args

from annotated_types import Ge, Gt, Le, Lt
from pydantic import model_validator

from netinv.config import NonNegative, PositiveInt, config_dataclass

Mode = Literal["label", "vector", "matrix", "vector_matrix"]  # where the class enters the generator
MODES: tuple[str, ...] = get_args(Mode)



@config_dataclass
class GeneratorConfig:
    """G(z, c)'s architecture; the first three fields come from the data (and the model inverted)."""

    num_classes: Annotated[int, Ge(2)]
    out_channels: PositiveInt
    image_size: tuple[PositiveInt, PositiveInt]
    mode: Mode = "vector"  # docs/results.md: vector conditioning measured best for recognisable samples
    latent_dim: PositiveInt = 64
    width: Annotated[int, Ge(2)] = 32
    dropout: Annotated[float, Ge(0), Lt(1)] = 0.3  # in the up-sampling blocks; active in training and sampling
    embed_dim: PositiveInt = 32


@config_dataclass
class LossWeights:
    """One weight per term; 0 switches a term off. Defaults: the papers' four terms, with the
    batch-norm prior and the adversarial student, weighted as measured best for distillation
    at fidelity ~0.99 (docs/results.md, "Data-free mechanisms"); a strong cross-entropy keeps
    fidelity while the prior and the adversary pull the samples towards data."""

    ce: NonNegative = 12.0
    kl: NonNegative = 1.0
    cos: NonNegative = 0.5
    orth: NonNegative = 0.5
    tv: NonNegative = 0.0
    bn: NonNegative = 3.0
    mode_seeking: NonNegative = 0.0
    adv: NonNegative = 2.0  # DFAD / DeepInversion's competition: seek samples a student has not yet learned
    contrast: NonNegative = 0.0  # CMI: each sample's two views closer to each other than to earlier samples


@config_dataclass
class InversionConfig:
    """Training the generator; defaults are the settings measured best (docs/results.md)."""

    generator_steps: PositiveInt = 600  # longer training collapses more: 1,500 lowered judge agreement and spread
    batch_size: Annotated[int, Ge(4)] = 128
    lr: Annotated[float, Gt(0), Le(1)] = 2e-3
    temperature: Annotated[float, Gt(0)] = 0.5  # soft conditioning vector p = softmax(r / T)
    feature_layers: tuple[str, ...] = ("embedding",)  # classifier layer(s) for the cosine / orthogonality losses
    same_class_cosine: bool = False  # cosine pairs across all classes (measured: judge agreement 0.80 -> 0.87)
    weights: LossWeights = field(default_factory=LossWeights)
    jitter: Annotated[int, Ge(0), Le(8)] = 2  # random shift (pixels) of each batch before the classifier sees it
    flip: bool = False  # random horizontal flips too (only where flips keep the class)
    crop: Annotated[float, Ge(0), Le(0.5)] = 0.0  # per-sample random resized crop: keep 1 - crop .. 1 of the side
    student_lr: Annotated[float, Gt(0), Le(1)] = 1e-3  # the adversarial term's student (when weights.adv > 0)
    student_temperature: Annotated[float, Gt(0)] = 4.0  # its imitation loss's softmax temperature
    memory_size: PositiveInt = 2048  # the contrastive term's bank of earlier samples' features
    contrast_temperature: Annotated[float, Gt(0)] = 0.1  # InfoNCE temperature (CMI's default)
    checkpoint_every: PositiveInt = 100
    seed: int = 0

    @model_validator(mode="after")
    def _pairs_fit_the_batch(self) -> Self:
        if self.weights.mode_seeking and self.batch_size % 2:
            raise ValueError(f"weights.mode_seeking pairs the two halves of each batch: batch_size must be even, "
                             f"got {self.batch_size}")
        return self


@config_dataclass
class SamplingConfig:
    """Drawing the released samples: a sharper conditioning vector than in training gives samples
    that both the classifier and the independent judge recognise more often."""

    sample_temperature: Annotated[float, Gt(0)] = 0.05  # sharper p than in training: higher fidelity and agreement
    samples_per_class: Annotated[int, Ge(10)] = 200
    sample_with_dropout: bool = True  # dropout stays on when sampling: a source of diversity
