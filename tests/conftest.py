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


@pytest.fixture(autouse=True)
def _tracking_uri_restored():
    """mlflow.set_tracking_uri also sets MLFLOW_TRACKING_URI in os.environ: without this, a
    test's (now stopped) server would stay the tracking URI of every later test."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


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

    from netinv.config.models import TrainConfig
    from netinv.models import build_model
    from netinv.training import fit

    images, labels = blobs
    torch.manual_seed(0)
    model = build_model("cnn", in_channels=1, image_size=(12, 12), num_classes=3, channels=(8,), hidden=16)
    fit(model, images, labels, images[:60], labels[:60], TrainConfig(epochs=2, batch_size=50, lr=5e-3),
        torch.device("cpu"), progress=False)
    return model.eval()


def blob_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` blob images (1x12x12, 3 classes, the position of a bright bar is the class)."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(3), n // 3 + 1)[:n]
    images = rng.integers(0, 60, size=(n, 1, 12, 12)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 0, 1 + 4 * label : 3 + 4 * label, 2:10] = 250
    return images, labels.astype(np.int64)


AUDIT_PARAMS = {
    "invert": {"generator_steps": 30, "batch_size": 16, "width": 8, "latent_dim": 8, "embed_dim": 8,
               "samples_per_class": 10, "checkpoint_every": 1000, "feature_layers": ["embedding"]},
    # 100 generator steps (about a second): enough for the held-out judge to recognise the samples of
    # the trained CNN (0.83 at 100 steps, 0.42 at 30), not those of a model that reads a few pixels (0.33).
    "audit": {"profile": "tiny", "profiles": {"tiny": {
        "invert": {"generator_steps": 100, "batch_size": 16, "samples_per_class": 12}, "real_per_class": 20,
        "checks": {"max_label_kl": {"value": 0.05, "severity": "critical"},
                   "min_confidence": {"value": 0.2, "severity": "critical"},
                   "min_fidelity": {"value": 0.2, "severity": "critical"},
                   "min_eval_agreement": {"value": 0.1, "severity": "warning"},
                   "max_pixel_mean_kl": {"value": 5.0, "severity": "warning"},
                   "min_diversity_ratio": {"value": 0.1, "severity": "warning"}},
        # Blob images are uniform noise plus a bar: no tiny generator reaches that texture, so coverage is 0
        # for the trained CNN too; the coverage gate is tested on constructed numbers (test_verdicts.py).
        "gates": {"min_heldout_agreement": {"value": 0.5, "severity": "critical"},
                  "min_coverage_ratio": {"value": 0.0, "severity": "critical"}},
        "max_drop": {"fidelity": 0.5}}}},
}


@pytest.fixture(scope="session")
def audit_project(tmp_path_factory) -> Path:
    """A tiny real project to audit: prepared blob data, a trained CNN (.pt and .onnx), the two trained
    judges (a ResNet, and an MLP as the held-out judge), and params.yaml (the repository's, with a
    tiny inversion and a `tiny` audit profile)."""
    import torch
    import yaml

    from netinv.config.models import TrainConfig
    from netinv.data import ImageDataset
    from netinv.export import export_onnx
    from netinv.models import build_model, save_model
    from netinv.splits import channel_stats, save_prepared
    from netinv.training import fit
    from stages.profile import deep_merge

    root = tmp_path_factory.mktemp("audit_project")
    names = ("top", "middle", "bottom")
    splits = {name: blob_images(n, seed) for name, n, seed in (("train", 300, 1), ("val", 60, 2), ("test", 90, 3))}
    mean, std = channel_stats(splits["train"][0])
    meta = {"class_names": list(names), "image_shape": [1, 12, 12], "mean": mean, "std": std, "dataset": "blobs"}
    save_prepared(root / "data/prepared", *(ImageDataset(*splits[s], names, "blobs") for s in ("train", "val", "test")),
                  meta=meta)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        common = {"in_channels": 1, "image_size": (12, 12), "num_classes": 3, "mean": tuple(mean), "std": tuple(std)}
        classifier = build_model("cnn", channels=(8,), hidden=16, **common)
        evaluator = build_model("resnet", width=8, stages=2, groups=4, **common)
        for model in (classifier, evaluator):
            fit(model, *splits["train"], *splits["val"], TrainConfig(epochs=2, batch_size=50, lr=5e-3),
                torch.device("cpu"), progress=False)
        heldout = build_model("mlp", hidden=(32,), **common)  # built after the others: they stay as they were
        fit(heldout, *splits["train"], *splits["val"], TrainConfig(epochs=4, batch_size=50, lr=5e-3),
            torch.device("cpu"), progress=False)
        save_model(root / "models/classifier.pt", classifier.eval())
        save_model(root / "models/evaluator.pt", evaluator.eval())
        save_model(root / "models/heldout.pt", heldout.eval())
        export_onnx(classifier, (1, 12, 12), root / "models/classifier.onnx")
    finally:
        torch.set_num_threads(threads)
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    override = deep_merge(AUDIT_PARAMS, {"audit": {"data": str(root / "data/prepared"),
                                                   "evaluator": str(root / "models/evaluator.pt"),
                                                   "heldout": str(root / "models/heldout.pt"),
                                                   "reports": str(root / "reports/audits")}})
    (root / "params.yaml").write_text(yaml.safe_dump(deep_merge(params, override), sort_keys=False))
    return root
