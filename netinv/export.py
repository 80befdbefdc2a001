"""ONNX export and its verification: the file users deploy must compute what PyTorch computes.

Input contract of the exported graph: float32 (N, C, H, W) in [0, 1], dynamic N; the
normalisation is a layer of the model, so it is inside the graph. Output: logits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from netinv.atomic import atomic_path
from netinv.errors import ModelFileError

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


def onnx_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session, with a clear error when the file is not a valid model."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelFileError(f"{path} is not a loadable ONNX model: {exc}; re-export it") from exc


def check_input_contract(session, input_shape: tuple[int, int, int], path: str | Path) -> None:
    """Refuse a model whose (C, H, W) input does not match the dataset's images."""
    declared = session.get_inputs()[0].shape  # e.g. ['batch', 1, 28, 28]
    fixed = [d for d in declared[1:]]
    if len(declared) != 4 or any(isinstance(d, int) and d != want for d, want in zip(fixed, input_shape, strict=True)):
        raise ModelFileError(
            f"{path} expects input {declared}, but the dataset's images are (N, {', '.join(map(str, input_shape))}); "
            "export the model for this image shape and channel count, or choose the matching dataset"
        )


def onnx_logits(session, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Logits for float32 images in [0, 1] through onnxruntime."""
    name = session.get_inputs()[0].name
    return np.concatenate(
        [session.run(None, {name: images[i : i + batch_size]})[0] for i in range(0, len(images), batch_size)]
    )


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
