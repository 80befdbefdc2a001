"""Reading a frozen classifier's internals during inversion: feature taps and BN statistics.

The diversity losses of Suhail, Tang, Sethi (2024) (cosine similarity, feature
orthogonality) act on the classifier's features of the generated batch, the penultimate
layer by default. ``FeatureTap`` collects them with forward hooks, so any layer (or
several) can be chosen by name without changing the classifier. ``BatchNormStatsPrior``
is DeepInversion's image prior (Yin et al. 2020): generated batches should reproduce the
per-channel statistics that the classifier's batch-norm layers recorded on real data.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import torch
from torch import nn

_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_PASS_THROUGH = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.Identity)


class _Hooked:
    """Context-manager protocol for objects holding forward hooks: leaving the block removes them."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class FeatureTap(_Hooked):
    """Forward hooks on named submodules; ``features`` holds their last outputs, (B, -1) each.

    Outputs are kept with their autograd graph, so losses on them reach the generator.
    Use as a context manager (hooks are removed on exit) or call ``close()``.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str]) -> None:
        if isinstance(layers, str):
            layers = [layers]
        if not layers:
            raise ValueError("FeatureTap needs at least one layer name")
        modules = dict(model.named_modules())
        unknown = [name for name in layers if name not in modules]
        if unknown:
            names = [name for name in modules if name][:30]
            raise ValueError(
                f"unknown feature layer(s) {unknown} in {type(model).__name__}; "
                f"valid names include: {names}"
            )
        self.layers = list(layers)
        self._outputs: dict[str, torch.Tensor] = {}
        self._handles = [modules[name].register_forward_hook(self._hook(name)) for name in self.layers]

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if isinstance(output, (tuple, list)):
                output = output[0]
            if not isinstance(output, torch.Tensor):
                raise ValueError(f"feature layer {name!r} returned {type(output).__name__}, not a tensor")
            self._outputs[name] = output

        return hook

    @property
    def features(self) -> list[torch.Tensor]:
        """The tapped outputs of the last forward, in ``layers`` order, each (B, -1)."""
        missing = [name for name in self.layers if name not in self._outputs]
        if missing:
            raise RuntimeError(f"layers {missing} have not run: call the model before reading features")
        return [self._outputs[name].flatten(1) for name in self.layers]  # (B, -1) each

    def clear(self) -> None:
        """Drop the stored outputs (and the graphs they hold)."""
        self._outputs.clear()

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self.clear()



def default_feature_layer(model: nn.Module) -> str:
    """The penultimate layer's name: where the diversity losses look by default.

    The papers apply the cosine / orthogonality terms to the classifier's features; the
    penultimate layer is the last one that still describes the image rather than the
    decision. Our models name it: ``embedding`` (the CNN). Otherwise this takes the last
    ``nn.Linear`` (in registration order, taken as the head) and returns the module
    registered just before it in the same parent, skipping dropout / identity layers and
    climbing to the parent's previous sibling when the head comes first (``pool`` for the
    SmallResNet). Registration order is a heuristic for data flow: pass explicit layer
    names for a model where it is not.
    """
    modules = dict(model.named_modules())
    if "embedding" in modules:
        return "embedding"
    linears = [name for name, module in modules.items() if isinstance(module, nn.Linear)]
    if not linears:
        raise ValueError(
            f"{type(model).__name__} has no 'embedding' module and no nn.Linear head; "
            "name the feature layer(s) explicitly"
        )
    name = linears[-1]
    while name:
        parent_name, _, _ = name.rpartition(".")
        siblings = list(modules[parent_name].named_children())
        position = [child for child, _ in siblings].index(name.rpartition(".")[2])
        for child, module in reversed(siblings[:position]):
            if not isinstance(module, _PASS_THROUGH):
                return f"{parent_name}.{child}" if parent_name else child
        name = parent_name
    raise ValueError(
        f"cannot tell which module feeds the head {linears[-1]!r} of {type(model).__name__}; "
        "name the feature layer(s) explicitly"
    )


class BatchNormStatsPrior(_Hooked):
    """DeepInversion's feature-statistics prior (Yin et al. 2020, "Dreaming to Distill").

    Loss = sum over batch-norm layers l of ``||mu_l(x) - running_mean_l||_2 +
    ||var_l(x) - running_var_l||_2``, where mu_l, var_l are the per-channel mean and
    (biased) variance of the layer's *input* over the generated batch (and space). Only
    classifiers with batch norm carry the statistics; the method doc lists it as an
    optional image prior, off by default. The loss reflects the last forward pass.
    """

    def __init__(self, model: nn.Module) -> None:
        layers = [
            module
            for module in model.modules()
            if isinstance(module, _BATCH_NORMS) and module.running_mean is not None
        ]
        if not layers:
            raise ValueError(
                f"the classifier ({type(model).__name__}) has no batch norm with running "
                "statistics, so the batch-norm prior cannot apply: set its weight (bn) to 0"
            )
        self._terms: dict[int, torch.Tensor] = {}
        self._handles = [layer.register_forward_hook(self._hook) for layer in layers]
        self.num_layers = len(layers)

    def _hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        x = inputs[0]
        dims = [0, *range(2, x.ndim)]  # all but the channel axis
        mean = x.mean(dim=dims)  # (C,)
        var = x.var(dim=dims, unbiased=False)  # (C,)
        self._terms[id(module)] = torch.linalg.vector_norm(mean - module.running_mean) + torch.linalg.vector_norm(
            var - module.running_var
        )

    def loss(self) -> torch.Tensor:
        if not self._terms:
            raise RuntimeError("the batch-norm prior has seen no forward pass: call the classifier first")
        return torch.stack(list(self._terms.values())).sum()

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._terms.clear()

