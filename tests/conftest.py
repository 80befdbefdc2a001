"""Shared fixtures: tiny real-format data, tiny models, quiet telemetry."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """600 learnable 1x12x12 uint8 images in 3 classes: a bright square whose position is the class."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 200)
    images = rng.integers(0, 60, size=(600, 1, 12, 12)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 0, 1 + 4 * label : 3 + 4 * label, 2:10] = 250
    order = rng.permutation(len(labels))
    return images[order], labels[order].astype(np.int64)


@pytest.fixture
def one_thread():
    """Tiny tensors gain nothing from threads; on a shared 2-core machine they only contend."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_classifier(blobs):
    """A small CNN trained briefly on the blobs: frozen, it is something to invert in seconds."""
    import torch

    from netinv.models import build_model
    from netinv.training import TrainConfig, fit

    images, labels = blobs
    torch.manual_seed(0)
    model = build_model("cnn", in_channels=1, image_size=(12, 12), num_classes=3, channels=(8,), hidden=16)
    fit(model, images, labels, images[:60], labels[:60], TrainConfig(epochs=2, batch_size=50, lr=5e-3),
        torch.device("cpu"), progress=False)
    return model.eval()
