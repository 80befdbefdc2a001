"""A batch-norm-style image prior for classifiers that carry no batch-norm statistics.

DeepInversion's prior (``features.BatchNormStatsPrior``) needs the running mean and
variance that batch-norm layers record on real data. An ONNX export folds batch norm
into the preceding convolution, so a converted classifier has none. The folded
convolution's output is BN(conv(x)), a per-channel affine map of what the BN layer
saw, so matching the per-channel statistics of that output on real data is the same
constraint, with the statistics measured on real images instead of read from the
dropped buffers.

``add_data_stats_probes`` inserts a ``StatsProbe`` (an identity ``nn.BatchNorm2d``) after
every ``nn.Conv2d`` and fills its running statistics with the exact per-channel mean
and (biased) variance of that convolution's output over the given real images. The
model's output is unchanged; ``BatchNormStatsPrior`` then hooks the probes as it would
any batch norm. The hidden linear layers (all but the head) get a ``StatsProbe1d`` the same
way: a BatchNorm1d after a hidden linear layer folds into it too. Probe a copy (``copy.deepcopy``) when the original must stay as it is.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class StatsProbe(nn.BatchNorm2d):
    """An identity layer carrying batch-norm running statistics (for ``BatchNormStatsPrior``)."""

    def __init__(self, num_features: int) -> None:
        super().__init__(num_features, affine=False, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class StatsProbe1d(nn.BatchNorm1d):
    """``StatsProbe`` for a hidden linear layer's (N, F) output (where a folded BatchNorm1d was)."""

    def __init__(self, num_features: int) -> None:
        super().__init__(num_features, affine=False, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def _as_float(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [0, 1] (the classifiers' input); float images as they are."""
    x = torch.as_tensor(images)
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


@torch.no_grad()
def add_data_stats_probes(model: nn.Module, images: np.ndarray | torch.Tensor, batch_size: int = 256,
                          hidden_linear: bool = True) -> int:
    """Insert a ``StatsProbe`` after every ``nn.Conv2d`` of `model` (in place), and with `hidden_linear`
    a ``StatsProbe1d`` after every ``nn.Linear`` but the last registered one (the head), with the
    per-channel statistics of that layer's output over `images` (uint8 N×C×H×W, or float already in
    the model's input scale). Leaves `model` in eval mode; returns the number of probes."""
    if len(images) == 0:
        raise ValueError("add_data_stats_probes needs at least one real image")
    layers: list[tuple[str, nn.Module, nn.BatchNorm2d | nn.BatchNorm1d]] = [
        (name, m, StatsProbe(m.out_channels)) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if hidden_linear:
        linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
        layers += [(name, m, StatsProbe1d(m.out_features)) for name, m in linears[:-1]]
    probes = [probe for _, _, probe in layers]
    for name, layer, probe in layers:
        _set_submodule(model, name, nn.Sequential(layer, probe))
    if not probes:
        return 0
    model.eval()
    # Exact statistics, merged batch by batch (Chan et al.'s parallel Welford update), in float64.
    means = {id(p): torch.zeros(p.num_features, dtype=torch.float64) for p in probes}
    m2s = {id(p): torch.zeros(p.num_features, dtype=torch.float64) for p in probes}
    counts = {id(p): 0 for p in probes}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        x = inputs[0].detach().to(torch.float64).transpose(0, 1).flatten(1).cpu()  # (C, N·H·W) or (F, N)
        key, n_b = id(module), x.shape[1]
        mean_b = x.mean(1)
        m2_b = ((x - mean_b[:, None]) ** 2).sum(1)
        n_a = counts[key]
        n = n_a + n_b
        delta = mean_b - means[key]
        means[key] += delta * (n_b / n)
        m2s[key] += m2_b + delta * delta * (n_a * n_b / n)
        counts[key] = n

    handles = [p.register_forward_hook(hook) for p in probes]
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        for start in range(0, len(images), batch_size):
            model(_as_float(images[start:start + batch_size]).to(device))
    finally:
        for handle in handles:
            handle.remove()
    for probe in probes:
        n = counts[id(probe)]
        if n == 0:
            raise RuntimeError("a convolution did not run on the real images: its probe has no statistics")
        probe.running_mean.copy_(means[id(probe)].to(probe.running_mean))
        probe.running_var.copy_((m2s[id(probe)] / n).to(probe.running_var))  # biased, as the prior's
        probe.num_batches_tracked.fill_(1)
    return len(probes)
