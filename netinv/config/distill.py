"""Data-free knowledge distillation, the downstream yardstick of inversion: the student and its training.

A fresh student of another family than the classifier learns from the classifier's soft
labels on generated samples only (Hinton et al. 2015; used as the test of inversion by
DAFL, Chen et al. 2019; DeepInversion, Yin et al. 2020; CMI, Fang et al. 2021). The same
recipe on real images of the same count is the ceiling, on uniform noise the floor
(netinv.distill). Defaults are sized so that the four students of the `distill` stage
(samples, online, real, noise) train in under 5 minutes on 2 idle CPU cores on Fashion-MNIST.
"""

from __future__ import annotations

from typing import Annotated, Self

from annotated_types import Ge, Gt, Le
from pydantic import model_validator

from netinv.config import NonNegative, PositiveInt, config_dataclass

KERNEL = 5  # LeNet's 5x5 convolutions, unpadded
MIN_SIDE = 16  # conv 5 -> pool 2 -> conv 5 -> pool 2 leaves at least 1x1 from 16x16; smaller images are zero-padded


@config_dataclass
class StudentConfig:
    """The student: a LeNet-style CNN (LeCun et al. 1998), a family apart from the classifier's
    (5x5 unpadded convolutions, ReLU, average pooling, no batch norm, no dropout).

    The first three fields and the normalisation come from the data.
    """

    in_channels: PositiveInt
    image_size: tuple[PositiveInt, PositiveInt]
    num_classes: Annotated[int, Ge(2)]
    # LeNet-5 has (6, 16) and 120-84 units; twice the filters lets 2,000 real images reach 0.875
    # test accuracy on Fashion-MNIST (teacher 0.919), while the student stays cheaper than the
    # teacher's forward pass on the same batch.
    student_channels: tuple[PositiveInt, PositiveInt] = (16, 32)
    student_hidden: tuple[PositiveInt, ...] = (120, 84)  # LeNet-5's fully connected widths
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)



@config_dataclass
class DistillConfig:
    """One student's training; the same recipe for every source, so that only the images differ."""

    # Optimiser steps per student, whatever the source. With CutMix the students keep improving
    # well past 1,500 steps (the "patient teacher" of Beyer et al. 2022); validation accuracy of
    # the samples' student (benchmarks/distill_recipe.py, 1 December 2026): 0.792 at 1,500,
    # 0.810 at 2,000, 0.824 at 2,500, 0.843 at 4,000; the real ceiling 0.867 at 1,500, 0.887 at
    # 2,500. 2,500 keeps the four students within 5 minutes on 2 idle cores. The teacher's
    # forward pass on every batch (and the generator's, online) is most of the cost, so
    # steps x batch_size sets the stage's time.
    steps: PositiveInt = 2500
    # 64, not 128: at equal cost, 1,500 x 64 beat 1,000 x 128 (validation 0.850 vs 0.846 at
    # lr 3e-3, without CutMix); with CutMix, 1,500 x 128 gave 0.814 in 82 s, 2,500 x 64 0.824 in 63 s.
    batch_size: Annotated[int, Ge(2)] = 64
    # Peak of a one-cycle AdamW schedule. Measured on the real ceiling's validation accuracy
    # (2,000 images): 3e-3 -> 0.850, 6e-3 -> 0.872, 1e-2 -> 0.882.
    lr: Annotated[float, Gt(0), Le(1)] = 1e-2
    weight_decay: NonNegative = 0.0  # 5e-4 with lr 3e-3 was lower (0.850); the soft targets regularise already
    # Hinton et al. 2015's softened targets; within the 1-20 of the data-free papers (CMI uses
    # 20). Measured: T 2 and 4 within 0.007 of each other on the ceiling's validation accuracy.
    temperature: Annotated[float, Gt(0)] = 4.0
    # Random shift (pixels) of each batch before both teacher and student see it (DAFL, CMI):
    # without it a student memorises a small fixed set of samples.
    augment_shift: Annotated[int, Ge(0), Le(8)] = 2
    # CutMix's Beta(alpha, alpha) on every batch after the shift (0: off), teacher and student
    # seeing the same mixed images (Beyer et al. 2022's function matching). Measured on the
    # validation split at 1,500 steps, 1 December 2026: samples' student 0.700 without, 0.792
    # with (mixup and random flips, tried once, did less); real ceiling 0.883 without, 0.867
    # with (it recovers with the longer schedule: 0.887 at 2,500).
    cutmix: Annotated[float, Ge(0)] = 1.0
    eval_every: PositiveInt = 250  # learning-curve points on the validation split: six per student, ~1 s each
    seed: int = 0

    @model_validator(mode="after")
    def _curve_has_points(self) -> Self:
        if self.eval_every > self.steps:
            raise ValueError(f"eval_every ({self.eval_every}) exceeds steps ({self.steps}): "
                             f"the learning curve would be empty; lower eval_every")
        return self
