"""ONNX export and its verification: the file users deploy must compute what PyTorch computes.

Input contract of the exported graph: float32 (N, C, H, W) in [0, 1], dynamic N; the
normalisation is a layer of the model, so it is inside the graph. Output: logits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from netinv.atomic import atomic_path
from netinv.errors import ModelFileError

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "OnnxRuntimeClassifier", "Parity", "check_input_contract", "export_onnx",
           "median_latency_ms", "onnx_logits", "onnx_session", "parity"]

INPUT_NAME = "images"
OUTPUT_NAME = "logits"


def export_onnx(model: nn.Module, input_shape: tuple[int, int, int], path: str | Path, opset: int = 18) -> None:
    """Export with a dynamic batch axis into one self-contained file (no external data)."""
    import onnx

    model = model.cpu().eval()
    example = torch.rand(2, *input_shape)
    batch = torch.export.Dim("batch", min=1, max=65536)
    with atomic_path(path) as tmp:
        program = torch.onnx.export(
            model,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes={"x": {0: batch}},
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
        program.save(str(tmp), external_data=False)
        onnx.checker.check_model(onnx.load(str(tmp)), full_check=True)


# --- the input contract, one check for a PyTorch module and an ONNX session alike ---------------
#
# Every classifier netinv audits or exports takes float32 (N, C, H, W) images in [0, 1] and
# returns (N, K) logits. A model made for other images must be refused before any work, with
# the model file and both shapes named: a wrong size crashes deep inside a layer, and a wrong
# channel count can even pass silently (a 3-channel normalisation broadcasts a 1-channel
# image to three identical channels). So the check compares what the model declares (a
# netinv model's config, an ONNX graph's fixed input dimensions), then runs a probe batch of
# the data's shape through it: that resolves what is left dynamic (symbolic C/H/W in ONNX, a
# module without a config) and proves the output is one row of logits per image.

PROBE_BATCH = 2

Shape = tuple[int, int, int]


def declared_input(model: Any) -> list[Any] | None:
    """The input shape the model declares, batch first, None for an axis it leaves open; None when
    it declares nothing. An ONNX session: its first input. A netinv module: its config."""
    if hasattr(model, "get_inputs"):
        return [d if isinstance(d, int) else None for d in model.get_inputs()[0].shape]
    config = getattr(model, "config", None)
    channels, size = getattr(config, "in_channels", None), getattr(config, "image_size", None)
    if channels is None or size is None:
        return None
    return [None, int(channels), *(int(s) for s in size)]


def _show(shape: list[Any] | tuple[Any, ...]) -> str:
    return "(" + ", ".join("N" if i == 0 and d is None else "?" if d is None else str(d)
                           for i, d in enumerate(shape)) + ")"


def _refuse(path: str | Path, expects: str, image_shape: Shape, why: str = "") -> ModelFileError:
    given = _show((None, *image_shape))
    return ModelFileError(
        f"model {path} expects input {expects}, but the data's images are {given}{why}; use a model made for "
        f"{image_shape[0]}-channel {image_shape[1]}x{image_shape[2]} images, or choose the matching dataset")


def _probe(model: Any, image_shape: Shape) -> np.ndarray:
    """Logits of a batch of mid-grey images of `image_shape`, as numpy."""
    x = np.full((PROBE_BATCH, *image_shape), 0.5, dtype=np.float32)
    if hasattr(model, "get_inputs"):
        return np.asarray(model.run(None, {model.get_inputs()[0].name: x})[0])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            parameter = next(model.parameters(), None)
            device = parameter.device if parameter is not None else torch.device("cpu")
            return model(torch.from_numpy(x).to(device)).float().cpu().numpy()
    finally:
        model.train(was_training)


def check_input_contract(model: nn.Module | Any, image_shape: Shape, path: str | Path,
                         num_classes: int | None = None) -> None:
    """Refuse `model` (a module or an onnxruntime session, loaded from `path`) unless it takes
    float32 (N, *image_shape) and returns (N, K) logits, K = `num_classes` when given."""
    image_shape = tuple(int(d) for d in image_shape)
    declared = declared_input(model)
    if declared is not None:
        fixed_mismatch = any(d is not None and d != want for d, want in zip(declared[1:], image_shape, strict=False))
        if len(declared) != 4 or fixed_mismatch:
            raise _refuse(path, _show(declared), image_shape)
    expects = _show(declared) if declared is not None else "of another shape"
    try:
        logits = _probe(model, image_shape)
    except Exception as exc:  # torch and onnxruntime raise their own untyped errors on a shape mismatch
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise _refuse(path, expects, image_shape, f" (a probe batch of that shape fails: {reason})") from exc
    if logits.ndim != 2 or logits.shape[0] != PROBE_BATCH:
        raise ModelFileError(f"model {path} returns {tuple(logits.shape)} for {PROBE_BATCH} images, not one row of "
                             "logits per image (N, K); give a classifier whose output is its logits")
    if num_classes is not None and logits.shape[1] != num_classes:
        raise ModelFileError(f"model {path} has {logits.shape[1]} classes but the data has {num_classes}; use a "
                             "model trained on these classes, or data with the model's classes")


def onnx_session(path: str | Path, threads: int | None = None, spin: bool | None = None):
    """An onnxruntime CPU session, with a clear error when the file is not a valid model."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    if spin is not None:
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelFileError(f"{path} is not a loadable ONNX model: {exc}; re-export it") from exc


def onnx_logits(session, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Logits for float32 images in [0, 1] through onnxruntime."""
    name = session.get_inputs()[0].name
    return np.concatenate(
        [session.run(None, {name: images[i : i + batch_size]})[0] for i in range(0, len(images), batch_size)]
    )


class OnnxRuntimeClassifier(nn.Module):
    """An exported classifier run by onnxruntime, callable like the PyTorch module: float images
    (N, C, H, W) in [0, 1] in, logits out, on the images' device. Forward only, no gradient.

    Why: on a few CPU cores onnxruntime runs these small convolutional classifiers several
    times faster than eager PyTorch (measured on the default classifier, batch 64, 2 cores:
    2.8 ms against 17 ms), and a teacher that only answers, as the distillation teacher does,
    needs nothing more. The export stage has checked that the file computes what PyTorch does.
    """

    def __init__(self, path: str | Path, threads: int | None = None, spin: bool | None = None) -> None:
        super().__init__()
        self.path = str(path)
        self.session = onnx_session(path, threads, spin)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        batch = images.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(onnx_logits(self.session, batch)).to(images.device)


@dataclass(frozen=True)
class Parity:
    max_abs_diff: float
    argmax_agreement: float


def parity(reference: np.ndarray, candidate: np.ndarray) -> Parity:
    return Parity(
        max_abs_diff=float(np.abs(reference - candidate).max()),
        argmax_agreement=float((reference.argmax(1) == candidate.argmax(1)).mean()),
    )


def median_latency_ms(fn: Callable[[], object], repeats: int, warmup: int = 5) -> float:
    """Median wall time of `fn()` in milliseconds; the median resists scheduler noise."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))
