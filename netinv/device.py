"""Device selection and mixed precision: `auto` means CUDA when present, else CPU."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

from netinv.config import DEVICE_PATTERN
from netinv.errors import ConfigError


def resolve_device(spec: str = "auto") -> torch.device:
    """Turn a device string (`auto`, `cpu`, `cuda`, `cuda:1`, `mps`) into a device this machine has, or explain.

    Every device string passes here, whether it came through a validated config (`Device`) or
    not (a command-line flag, a caller of the core), so the same words refuse the same mistakes.
    """
    if not isinstance(spec, str) or not DEVICE_PATTERN.fullmatch(spec):
        raise ConfigError(f"unknown device {spec!r}: use the device auto (CUDA when present, else CPU), cpu, "
                          "cuda, cuda:N or mps", field="device")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device '{spec}' was requested but CUDA is not available on this machine; "
            "use the device 'auto' (or 'cpu')",
            field="device",
        )
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"device '{spec}' was requested but this machine has {torch.cuda.device_count()} CUDA "
                          "device(s); use the device 'cuda' (or 'auto')", field="device")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device '{spec}' was requested but MPS is not available on this machine; use the "
                          "device 'auto' (or 'cpu')", field="device")
    return device


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (no loss scaler needed); a no-op on CPU, where fp32 is faster."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU generator for data order and noise."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
