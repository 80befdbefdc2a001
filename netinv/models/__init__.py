"""Classifiers: the CNN under audit, the independent evaluation network, and their files."""

from netinv.config.models import CNNConfig, MLPConfig, ResNetConfig
from netinv.models.classifier import CNNClassifier
from netinv.models.evaluator import SmallResNet
from netinv.models.io import ARCHITECTURES, build_model, load_model, save_model
from netinv.models.mlp import MLPJudge

__all__ = [
    "ARCHITECTURES",
    "CNNClassifier",
    "CNNConfig",
    "MLPConfig",
    "MLPJudge",
    "ResNetConfig",
    "SmallResNet",
    "build_model",
    "load_model",
    "save_model",
]
