"""The (n+1)-class garbage model: made from the plain classifier, its probabilities, its OOD scores.

The garbage class is the last output. netinv.ood.garbage trains it; netinv.ood.detector
scores with it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from netinv.models import build_model
from netinv.ood.metrics import uncertainty
from netinv.training import predict_logits


def garbage_model_from(classifier: nn.Module, init_from_classifier: bool = True) -> nn.Module:
    """A "cnn" with the classifier's architecture and n+1 outputs (garbage last); its weights copied
    from the classifier when `init_from_classifier`, else freshly initialised."""
    config = dataclasses.asdict(classifier.config)
    n = config.pop("num_classes")
    model = build_model("cnn", num_classes=n + 1, **config)
    if init_from_classifier:
        state = {k: v for k, v in classifier.state_dict().items() if not k.startswith("head.")}
        model.load_state_dict(state, strict=False)
        with torch.no_grad():
            model.head.weight[:n] = classifier.head.weight
            model.head.bias[:n] = classifier.head.bias
            # A constant garbage logit below every real bias: it rejects (almost) nothing before
            # training, and the start is deterministic, so a checkpoint of it can be resumed.
            model.head.weight[n] = 0.0
            model.head.bias[n] = classifier.head.bias.min() - 1.0
    return model.eval()


@torch.no_grad()
def class_probs(model: nn.Module, images: np.ndarray, device: torch.device) -> np.ndarray:
    logits = torch.from_numpy(predict_logits(model, images, device))
    return torch.softmax(logits, dim=1).numpy()


def garbage_scores(probs: np.ndarray) -> dict[str, np.ndarray]:
    """OOD scores (higher = more OOD) from the (n+1)-class probabilities, garbage last.

    garbage: p(garbage). garbage_ue: the method's rule "OOD when assigned to garbage, or by
    UE": inputs whose argmax is garbage score 1 + p(garbage), above every accepted input,
    the others score UE(p) in [0, 1].
    """
    garbage = probs[:, -1]
    rejected = probs.argmax(1) == probs.shape[1] - 1
    return {"garbage": garbage.astype(np.float64),
            "garbage_ue": np.where(rejected, 1.0 + garbage, uncertainty(probs))}
