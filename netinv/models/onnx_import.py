"""An ONNX classifier back as a differentiable PyTorch module, so that it can be inverted.

`onnx2torch.convert` rebuilds the graph as a `torch.fx.GraphModule`. Two details make it
usable here: torch's dynamo exporter writes `Reshape(allowzero=1)`, which onnx2torch
refuses; with real (non-zero) dimensions allowzero changes nothing, so it is reset to 0
first (a 0 in a reshape target would still be caught by the parity check). And the
inversion needs the penultimate features: the wrapper routes the input of the last
`nn.Linear` through an identity module named ``embedding`` (what `FeatureTap` and the
diversity losses look for) and exposes `embed` / `head` like the project's own models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from netinv.errors import ModelFileError


class OnnxClassifier(nn.Module):
    """forward(x) = graph(x); `embedding` sees the input of the graph's last linear layer."""

    def __init__(self, graph: nn.Module, source: str) -> None:
        super().__init__()
        self.graph = graph
        self.source = source
        linears = [m for m in graph.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ModelFileError(f"{source}: the converted graph has no linear (Gemm/MatMul) head to take features from")
        self.embedding = nn.Identity()
        self._head = linears[-1]
        self._features: torch.Tensor | None = None
        self._head.register_forward_pre_hook(self._route)

    def _route(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        features = self.embedding(inputs[0])  # (B, F): hooks on `embedding` see it, with its graph
        self._features = features
        return (features, *inputs[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x)

    @property
    def head(self) -> nn.Linear:
        """The graph's last linear layer: logits = head(embed(x)), as in netinv's own models."""
        return self._head

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        self.graph(x)
        features, self._features = self._features, None
        return features.flatten(1)


def _reset_allowzero(model) -> int:
    changed = 0
    for node in model.graph.node:
        if node.op_type == "Reshape":
            for attribute in node.attribute:
                if attribute.name == "allowzero" and attribute.i != 0:
                    attribute.i = 0
                    changed += 1
    return changed


def load_onnx_classifier(path: str | Path) -> OnnxClassifier:
    """Convert the ONNX file at `path` (float32 N×C×H×W in [0, 1] -> logits) to an eval-mode module."""
    import onnx
    from onnx2torch import convert

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"ONNX file {path} does not exist")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ModelFileError(f"{path} is not a readable ONNX model: {exc}") from exc
    _reset_allowzero(model)
    try:
        graph = convert(model)
    except NotImplementedError as exc:
        raise ModelFileError(
            f"{path} uses an operator onnx2torch cannot convert ({exc}); audit the PyTorch model file "
            "instead, or export with a lower opset", field="opset", config="ExportConfig") from exc
    wrapper = OnnxClassifier(graph, str(path))
    for p in wrapper.parameters():
        p.requires_grad_(False)
    return wrapper.eval()


def check_differentiable(model: nn.Module, input_shape: tuple[int, int, int], seed: int = 0) -> float:
    """Backpropagate the logits to a random input; return the mean |gradient|.

    Raises ModelFileError when no finite, non-zero gradient reaches the input: such a
    module cannot be inverted by gradient descent.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(4, *input_shape, generator=generator, requires_grad=True)  # (4, C, H, W)
    logits = model(x)
    logits.gather(1, logits.argmax(1, keepdim=True)).sum().backward()
    grad = x.grad
    if grad is None or not torch.isfinite(grad).all() or float(grad.abs().sum()) == 0.0:
        raise ModelFileError(
            f"{getattr(model, 'source', type(model).__name__)}: no usable gradient reaches the input "
            "(non-differentiable ops after conversion); it cannot be inverted")
    return float(grad.abs().mean())


@torch.no_grad()
def torch_logits(model: nn.Module, images_uint8: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Logits of uint8 (N, C, H, W) images scaled to [0, 1], as float32 (N, K)."""
    out = [model(torch.from_numpy(images_uint8[i:i + batch_size]).float() / 255.0).float().numpy()
           for i in range(0, len(images_uint8), batch_size)]
    return np.concatenate(out)
