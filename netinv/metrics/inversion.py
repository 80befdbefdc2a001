"""The inversion quality report (docs/evaluation.md, "Inversion quality"), in one call.

One forward pass of each network over the generated and the real images feeds every
number: fidelity (the inverted classifier, and its ONNX export when given), evaluation
agreement (the independent judge), within-class diversity and coverage, and FID/KID in
the judge's feature space. Used by the `invert` stage and by audits alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from netinv.metrics.class_diversity import (
    per_class_diversity,
    real_control_prdc,
    same_sized_control,
)
from netinv.metrics.distance import distribution_distance
from netinv.metrics.quality import embed_and_predict, label_agreement


def per_class_agreement(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> dict[str, float]:
    """A judge's agreement with the intended labels, per class present (keys: class index as text)."""
    return {str(c): label_agreement(logits[labels == c], labels[labels == c]) for c in range(num_classes)
            if (labels == c).any()}


def inversion_quality(
    images: np.ndarray,
    labels: np.ndarray,
    classifier: nn.Module,
    evaluator: nn.Module,
    real_images: np.ndarray,
    real_labels: np.ndarray,
    num_classes: int,
    device: torch.device,
    onnx_session: Any | None = None,
    seed: int = 0,
    control_images: np.ndarray | None = None,
    control_labels: np.ndarray | None = None,
    heldout: nn.Module | None = None,
) -> dict[str, Any]:
    """Metrics of generated uint8 `images` with intended `labels` against real test images.

    With `control_images` (real images outside the reference, e.g. the training split) the
    report also holds `coverage_real` and the rest of PRDC for as many real images per class
    as were generated: the ceiling that `coverage` is to be read against.
    """
    _, classifier_logits = embed_and_predict(classifier, images, device=device)
    fake_features, eval_logits = embed_and_predict(evaluator, images, device=device)
    real_features, _ = embed_and_predict(evaluator, real_images, device=device)
    report: dict[str, Any] = {
        "fidelity": label_agreement(classifier_logits, labels),
        "eval_agreement": label_agreement(eval_logits, labels),
    }
    if heldout is not None:
        _, heldout_logits = embed_and_predict(heldout, images, device=device)
        report["eval_agreement_heldout"] = label_agreement(heldout_logits, labels)
        per_class_heldout = per_class_agreement(heldout_logits, labels, num_classes)
    else:
        per_class_heldout = {}
    if onnx_session is not None:
        from netinv.export import onnx_logits

        report["fidelity_onnx"] = label_agreement(onnx_logits(onnx_session, images.astype(np.float32) / 255.0), labels)
    diversity = per_class_diversity(images, labels, fake_features, real_images, real_labels, real_features,
                                    num_classes, seed=seed)
    distance = distribution_distance(fake_features, labels, real_features, real_labels, num_classes, seed=seed)
    per_class_eval = per_class_agreement(eval_logits, labels, num_classes)
    report.update({k: v for k, v in diversity.items() if k != "per_class"})
    control: dict[str, Any] = {"per_class": {}}
    if control_images is not None and control_labels is not None:
        picked = same_sized_control(labels, np.asarray(control_labels), seed=seed)
        control_features, _ = embed_and_predict(evaluator, control_images[picked], device=device)
        control = real_control_prdc(real_features, np.asarray(real_labels), control_features,
                                    np.asarray(control_labels)[picked], list(diversity["per_class"]),
                                    k=diversity["k"])
        report.update({k: v for k, v in control.items() if k != "per_class"})
    report["fid_eval"] = distance["fid"]
    report["kid_eval"] = distance["kid"]
    report["per_class"] = {
        c: {**values, **control["per_class"].get(c, {}), "eval_agreement": per_class_eval.get(c),
            **({"eval_agreement_heldout": per_class_heldout[c]} if c in per_class_heldout else {}),
            "fid_eval": distance.get("per_class", {}).get(c, {}).get("fid")}
        for c, values in diversity["per_class"].items()
    }
    return report
