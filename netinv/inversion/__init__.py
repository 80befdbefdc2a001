"""Network inversion (Suhail, Tang, Sethi 2024): a conditioned generator, its losses, feature taps.

Pure PyTorch building blocks; the training loop and its parameters live elsewhere.
"""

from netinv.config.inversion import MODES, GeneratorConfig, LossWeights
from netinv.inversion.conditioning import (
    MATRIX_MODES,
    VECTOR_MODES,
    Conditioning,
    label_matrix,
    matrices_are_distinct,
    sample_conditioning,
)
from netinv.inversion.features import BatchNormStatsPrior, FeatureTap, default_feature_layer
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.losses import (
    cosine_similarity_loss,
    cross_entropy_loss,
    kl_loss,
    mode_seeking_loss,
    orthogonality_loss,
    total_variation,
)

__all__ = [
    "MATRIX_MODES",
    "MODES",
    "VECTOR_MODES",
    "BatchNormStatsPrior",
    "ConditionedGenerator",
    "Conditioning",
    "FeatureTap",
    "GeneratorConfig",
    "LossWeights",
    "cosine_similarity_loss",
    "cross_entropy_loss",
    "default_feature_layer",
    "kl_loss",
    "label_matrix",
    "matrices_are_distinct",
    "mode_seeking_loss",
    "orthogonality_loss",
    "sample_conditioning",
    "total_variation",
]
