"""Classifiers: the CNN under audit, the independent evaluation network, and their files."""

from netinv.models.classifier import CNNClassifier, CNNConfig
from netinv.models.evaluator import ResNetConfig, SmallResNet
from netinv.models.io import ARCHITECTURES, build_model, load_model, save_model

__all__ = [
    "ARCHITECTURES",
    "CNNClassifier",
    "CNNConfig",
    "ResNetConfig",
    "SmallResNet",
    "build_model",
    "load_model",
    "save_model",
]
