"""Model files: a state_dict plus the architecture config, loaded with weights_only=True.

A checkpoint is a plain dict of tensors, strings and numbers, so `torch.load(...,
weights_only=True)` can read it without unpickling code. Loading rebuilds the network
from the architecture stored in the file, never from the caller's params.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from netinv.atomic import write_bytes
from netinv.config.models import CNNConfig, MLPConfig, ResNetConfig
from netinv.errors import ModelFileError
from netinv.models.classifier import CNNClassifier
from netinv.models.evaluator import SmallResNet
from netinv.models.mlp import MLPJudge

FORMAT = "netinv.model/1"
ARCHITECTURES: dict[str, tuple[type, type[nn.Module]]] = {
    "cnn": (CNNConfig, CNNClassifier),
    "resnet": (ResNetConfig, SmallResNet),
    "mlp": (MLPConfig, MLPJudge),
}


# Architectures defined elsewhere register themselves on import; a file naming one is
# loaded by importing its module first. The classifiers thereby never depend on them.
PLUGINS = {"generator": "netinv.inversion.generator"}


def register_architecture(name: str, config_cls: type, model_cls: type[nn.Module]) -> None:
    ARCHITECTURES[name] = (config_cls, model_cls)


def _architecture(arch: str) -> tuple[type, type[nn.Module]]:
    if arch not in ARCHITECTURES and arch in PLUGINS:
        importlib.import_module(PLUGINS[arch])
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture '{arch}'; valid: {sorted({*ARCHITECTURES, *PLUGINS})}")
    return ARCHITECTURES[arch]


def build_model(arch: str, **config: Any) -> nn.Module:
    config_cls, model_cls = _architecture(arch)
    return model_cls(config_cls(**_tuples(config)))


def save_model(path: str | Path, model: nn.Module, meta: dict[str, Any] | None = None) -> None:
    arch = next((name for name, (_, cls) in ARCHITECTURES.items() if isinstance(model, cls)), None)
    if arch is None:
        raise ValueError(f"cannot save a {type(model).__name__}; known: {sorted(ARCHITECTURES)}")
    payload = {
        "format": FORMAT,
        "arch": arch,
        "config": dataclasses.asdict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }
    write_bytes(path, serialise(payload))


def serialise(payload: dict[str, Any]) -> bytes:
    """The bytes of `torch.save(payload)`, the same for the same payload.

    torch.save names the zip's root folder after the file it writes to; a temporary file's
    random name would make every save of the same weights differ, and DVC rerun every stage
    downstream. Saved into memory, the root folder is always `archive`.
    """
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a file safely and check it is one of ours, with a message for each way it is not."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist: train it first or pass another file",
                             rebuild=True)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelFileError(
            f"{path} holds pickled objects beyond tensors and was refused (weights_only=True): "
            f"{str(exc).splitlines()[0]}. Only load model files you trust; re-save it as a "
            "state_dict with netinv.models.save_model"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(
            f"{path} is not a readable PyTorch file ({type(exc).__name__}: {exc}); "
            "it may be truncated or of another format: train it again or pass another file",
            rebuild=True,
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        kind = type(payload).__name__
        raise ModelFileError(
            f"{path} is not a netinv model file (found a {kind} without format '{FORMAT}'); "
            "a bare state_dict lacks the architecture: save it with netinv.models.save_model"
        )
    if payload.get("arch") not in ARCHITECTURES and payload.get("arch") not in PLUGINS:
        raise ModelFileError(f"{path} names unknown architecture {payload.get('arch')!r}")
    return payload


def load_model(path: str | Path, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild the network stored in `path`, in eval mode."""
    payload = read_checkpoint(path)
    model = _rebuild(path, payload)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise ModelFileError(f"{path}: weights do not fit its architecture: {exc}") from exc
    return model.to(device).eval()


def _rebuild(path: str | Path, payload: dict[str, Any]) -> nn.Module:
    """The network the file describes; a config this code does not accept (a key of another
    version of netinv, a value out of range) is the file's fault, and the message says so."""
    config = payload.get("config")
    if not isinstance(config, dict):
        raise ModelFileError(f"{path} holds no architecture config (found {type(config).__name__}); "
                             "re-save it with netinv.models.save_model")
    config_cls, _ = _architecture(payload["arch"])
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ModelFileError(
            f"{path} has architecture config keys {unknown} that a {payload['arch']!r} model of this netinv "
            f"does not take (valid: {sorted(known)}); it was saved by another version: train it again with "
            "this one, or load it with the version that saved it", rebuild=True)
    try:
        return build_model(payload["arch"], **config)
    except (ValidationError, TypeError) as exc:
        raise ModelFileError(f"{path}: its architecture config does not build a {payload['arch']!r} model "
                             f"({str(exc).splitlines()[0]}); train it again", rebuild=True) from exc


def _tuples(config: dict[str, Any]) -> dict[str, Any]:
    """Lists (from YAML or JSON) back to the tuples the frozen configs declare."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
