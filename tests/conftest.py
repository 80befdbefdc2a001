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
