"""Inversion quality (docs/evaluation.md, "Inversion quality"): agreement of labels, and the
one forward pass of a classifier that every other metric reads.

`embed_and_predict` gives the features and logits of one eval-mode pass; the metrics take
those arrays and do no I/O: FID / KID in netinv.metrics.distance, per-class diversity and
coverage in netinv.metrics.class_diversity, the whole report in netinv.metrics.inversion.
Images are uint8 (N, C, H, W), labels int (N,), features float (N, F).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from netinv.metrics.diversity import check_images
from netinv.training import to_float

__all__ = ["embed_and_predict", "label_agreement"]


def label_agreement(predicted: np.ndarray, intended: np.ndarray) -> float:
    """Fraction of samples whose predicted label equals the intended one: `fidelity` with the
    inverted classifier's predictions, `evaluation agreement` with the evaluation classifier's.
    `predicted` may be labels (N,) or logits (N, K) (argmax is taken)."""
    predicted, intended = np.asarray(predicted), np.asarray(intended)
    if predicted.ndim == 2:
        predicted = predicted.argmax(axis=1)
    if predicted.ndim != 1 or intended.ndim != 1 or len(predicted) != len(intended):
        raise ValueError(
            f"need labels (N,) or logits (N, K) and intended labels (N,), got {predicted.shape} and {intended.shape}"
        )
    if len(intended) == 0:
        raise ValueError("no samples: agreement of an empty set is undefined")
    return float((predicted == intended).mean())


@torch.no_grad()
def embed_and_predict(
    model: nn.Module,
    images_uint8: np.ndarray,
    device: torch.device | str = "cpu",
    batch_size: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, F), logits (N, K)) as float32 from one eval-mode, full-precision pass.

    Uses `model.embed` and, when the model has one, `model.head` on those features (the
    project's models define forward = head(embed(x))); otherwise calls the model a second
    time for the logits. The model's train/eval mode is restored afterwards.
    """
    images = check_images(images_uint8, "images_uint8", min_count=1)
    if not hasattr(model, "embed"):
        raise ValueError(
            f"{type(model).__name__} has no .embed(x); wrap it so embed returns pooled features"
        )
    was_training = model.training
    model.eval()
    features, logits = [], []
    try:
        for start in range(0, len(images), batch_size):
            x = to_float(
                torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size])).to(
                    device
                )
            )
            f = model.embed(x)
            out = model.head(f) if isinstance(getattr(model, "head", None), nn.Module) else model(x)
            features.append(f.float().flatten(1).cpu())
            logits.append(out.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(features).numpy(), torch.cat(logits).numpy()
