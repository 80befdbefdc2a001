"""Data-free knowledge distillation: how much of the classifier's knowledge its inversions carry.

A fresh student (netinv.models.student) learns from the classifier's soft labels on a
source's images only; its accuracy on real test images, beside the same recipe on real
images of the same count (the ceiling) and on uniform noise (the floor), measures the
samples as DAFL, DeepInversion, CMI and Fast-Datafree do.
"""

from netinv.distill.sources import Source, fixed_source, generator_source, noise_images
from netinv.distill.trainer import DistillResult, Split, accuracy, distill, kd_loss, new_student

__all__ = ["DistillResult", "Source", "Split", "accuracy", "distill", "fixed_source", "generator_source",
           "kd_loss", "new_student", "noise_images"]
