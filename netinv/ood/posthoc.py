"""Post-hoc OOD detectors on a plain classifier, through pytorch-ood (never re-implemented here).

MSP, MaxLogit and Energy read the logits; Mahalanobis, KNN and ViM are fitted on the
penultimate features (`model.embed`) of the training images. One forward pass feeds all
six. Every pytorch-ood score is already "higher = more likely OOD". The fitted state is
plain arrays (`state()`), so a detector is saved as `.npz` and rebuilt without pickle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from pytorch_ood.detector import KNN, EnergyBased, Mahalanobis, MaxLogit, MaxSoftmax, ViM
from torch import nn

from netinv.config.ood import POSTHOC_METHODS as METHODS
from netinv.errors import ConfigError
from netinv.training import to_float

FEATURE_METHODS = ("mahalanobis", "knn", "vim")


@torch.no_grad()
def features_and_logits(model: nn.Module, images: np.ndarray, device: torch.device,
                        batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (N, D) and logits (N, K) on the CPU, for uint8 images (N, C, H, W)."""
    model.eval()
    feats, logits = [], []
    for start in range(0, len(images), batch_size):
        x = to_float(torch.from_numpy(images[start : start + batch_size]).to(device))
        f = model.embed(x)  # (B, D)
        feats.append(f.float().cpu())
        logits.append(model.head(f).float().cpu())
    return torch.cat(feats), torch.cat(logits)


def _check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown post-hoc method(s) {unknown}; valid: {', '.join(METHODS)}")
    return tuple(methods)


class PosthocDetectors:
    """The fitted detectors of one classifier; `score(images)` -> {method: (N,) float64}."""

    def __init__(self, model: nn.Module, detectors: dict[str, object], device: torch.device) -> None:
        self.model = model.eval()
        self.detectors = detectors
        self.device = device

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.detectors)

    def score(self, images: np.ndarray) -> dict[str, np.ndarray]:
        feats, logits = features_and_logits(self.model, images, self.device)
        out = {}
        for name, detector in self.detectors.items():
            if name in FEATURE_METHODS:
                scores = detector.predict_features(feats)
            else:
                scores = detector.predict_logits(logits)
            out[name] = scores.detach().cpu().double().numpy()
        return out

    def state(self) -> dict[str, np.ndarray]:
        """The fitted parameters as plain arrays (for `np.savez`; rebuilt by `from_state`)."""
        state: dict[str, np.ndarray] = {"methods": np.array(self.methods)}
        if "mahalanobis" in self.detectors:
            d = self.detectors["mahalanobis"]
            state["mahalanobis.mu"] = d.mu.cpu().numpy()
            state["mahalanobis.cov"] = d.cov.cpu().numpy()
            state["mahalanobis.precision"] = d.precision.cpu().numpy()
        if "knn" in self.detectors:
            d = self.detectors["knn"]
            state["knn.features"] = d._fit_features.numpy()  # normalised by the detector itself on refit
            state["knn.k"] = np.array(d.k)
        if "vim" in self.detectors:
            d = self.detectors["vim"]
            state["vim.principal_subspace"] = d.principal_subspace.cpu().numpy()
            state["vim.alpha"] = np.array(d.alpha)
            state["vim.d"] = np.array(d.d)
        return state

    @classmethod
    def from_state(cls, model: nn.Module, state: dict[str, np.ndarray], device: torch.device) -> PosthocDetectors:
        methods = _check_methods([str(m) for m in state["methods"].tolist()])
        detectors = _unfitted(model, methods, knn_k=int(state["knn.k"]) if "knn" in methods else 50,
                              vim_dim=int(state["vim.d"]) if "vim" in methods else 1)
        if "mahalanobis" in detectors:
            d = detectors["mahalanobis"]
            d.mu = torch.from_numpy(state["mahalanobis.mu"])
            d.cov = torch.from_numpy(state["mahalanobis.cov"])
            d.precision = torch.from_numpy(state["mahalanobis.precision"])
        if "knn" in detectors:
            feats = torch.from_numpy(state["knn.features"])
            detectors["knn"].fit_features(feats, torch.zeros(len(feats), dtype=torch.long))
            detectors["knn"]._fit_features = feats
        if "vim" in detectors:
            d = detectors["vim"]
            d.principal_subspace = torch.from_numpy(state["vim.principal_subspace"])
            d.alpha = float(state["vim.alpha"])
        return cls(model, detectors, device)


def _unfitted(model: nn.Module, methods: Sequence[str], knn_k: int, vim_dim: int) -> dict[str, object]:
    head = model.head
    makers = {
        "msp": lambda: MaxSoftmax(None),
        "maxlogit": lambda: MaxLogit(None),
        "energy": lambda: EnergyBased(None),
        "mahalanobis": lambda: Mahalanobis(None),
        "knn": lambda: KNN(None, k=knn_k, algorithm="brute"),  # exact; trees are slow at 128 dims
        "vim": lambda: ViM(None, d=vim_dim, w=head.weight.detach().cpu(), b=head.bias.detach().cpu()),
    }
    return {m: makers[m]() for m in methods}


def fit_posthoc(model: nn.Module, images_uint8_nchw: np.ndarray, labels: np.ndarray,
                methods: Sequence[str] = METHODS, device: torch.device | str = "cpu", knn_k: int = 50,
                vim_dim: int = 64) -> PosthocDetectors:
    """Fit the chosen detectors on the classifier's features of (training) images and their labels.

    knn_k: the k of KNN (Sun et al. 2022 use 50 on CIFAR-10). vim_dim: the principal subspace
    dimension of ViM (Wang et al. 2022); it must be below the feature dimension.
    """
    methods = _check_methods(methods)
    device = torch.device(device)
    model = model.to(device).eval()
    if len(images_uint8_nchw) != len(labels):
        raise ValueError(f"{len(images_uint8_nchw)} images but {len(labels)} labels")
    if "knn" in methods and len(labels) < knn_k:
        raise ConfigError(f"KNN needs at least k = {knn_k} fitting images, got {len(labels)}; "
                          "lower knn_k or fit on more images", field="knn_k")
    detectors = _unfitted(model, methods, knn_k, vim_dim)
    if any(m in FEATURE_METHODS for m in methods):
        feats, _ = features_and_logits(model, images_uint8_nchw, device)
        y = torch.from_numpy(np.asarray(labels)).long()
        for name in FEATURE_METHODS:
            if name in detectors:
                detectors[name].fit_features(feats, y)
        if "knn" in detectors:
            detectors["knn"]._fit_features = feats
    return PosthocDetectors(model, detectors, device)
