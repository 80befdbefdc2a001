"""The model under audit: a `models:/` URI of the MLflow registry, an `.onnx` file or a netinv `.pt`
file, loaded as a differentiable PyTorch module. An ONNX model is converted with onnx2torch,
checked to be differentiable and to match onnxruntime within the profile's tolerances.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from audit.config import AuditProfile
from netinv.errors import ModelFileError
from netinv.export import check_input_contract, onnx_logits, onnx_session, parity
from netinv.models import load_model
from netinv.models.onnx_import import check_differentiable, load_onnx_classifier, torch_logits
from netinv.splits import Prepared
from stages.tracking import public_uri, redact, tracking_uri


@dataclass
class AuditModel:
    reference: str  # as asked: models:/NAME@ALIAS or a path
    module: nn.Module  # differentiable, eval mode, float32 [0, 1] N×C×H×W -> logits
    sha256: str
    onnx_path: Path | None = None
    registered: dict[str, str] = field(default_factory=dict)  # name, version, alias, run_id
    checks: dict[str, Any] = field(default_factory=dict)  # conversion: parity, gradient


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_models_uri(uri: str) -> tuple[str, str | None, str | None]:
    """models:/NAME@ALIAS or models:/NAME/VERSION -> (name, alias, version)."""
    match = re.fullmatch(r"models:/([^/@]+)(?:@([\w-]+)|/(\d+))", uri)
    if match is None:
        raise ModelFileError(f"cannot read model URI {uri!r}: use models:/NAME@ALIAS or models:/NAME/VERSION")
    return match.group(1), match.group(2), match.group(3)


def fetch_registered(uri: str, dst: Path) -> tuple[Path, dict[str, str]]:
    """Download the registered model at `uri` into `dst`; return its model file and registry facts."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    client = mlflow.MlflowClient()
    name, alias, version = parse_models_uri(uri)
    try:
        mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except mlflow.exceptions.MlflowException as exc:
        reason = redact(str(exc).splitlines()[0])
        raise ModelFileError(
            f"{uri} is not in the model registry at {public_uri(tracking_uri())} ({reason}); run the "
            "training flow (python -m pipeline train) or pass an .onnx file") from exc
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{mv.version}", dst_path=str(dst)))
    files = sorted(local.rglob("*.onnx")) or sorted(local.rglob("*.pt"))
    if not files:
        raise ModelFileError(f"{uri} (version {mv.version}) holds no .onnx or .pt file; audit an ONNX-flavour model")
    facts = {"name": name, "version": str(mv.version), "run_id": mv.run_id or ""}
    if alias:
        facts["alias"] = alias
    return files[0], facts


def resolve_model(reference: str, data: Prepared, profile: AuditProfile, work_dir: Path) -> AuditModel:
    """Load the model under audit as a differentiable module, checked against onnxruntime.

    A registered model is downloaded into `work_dir`, which must outlive the audit (the
    inversion's quality metrics read the ONNX file again)."""
    registered: dict[str, str] = {}
    if reference.startswith("models:/"):
        path, registered = fetch_registered(reference, work_dir)
    else:
        path = Path(reference)
        if not path.is_file():
            raise ModelFileError(f"model file {path} does not exist; pass an .onnx / .pt file or a models:/ URI")
    classes = len(data.class_names)
    if path.suffix == ".pt":
        module = load_model(path)
        check_input_contract(module, data.image_shape, path, classes)
        checks = {"gradient_mean_abs": check_differentiable(module, data.image_shape)}
        return AuditModel(reference, module, sha256(path), None, registered, checks)
    session = onnx_session(path)
    check_input_contract(session, data.image_shape, path, classes)  # the same check as for a .pt file
    module = load_onnx_classifier(path)
    gradient = check_differentiable(module, data.image_shape)
    images = data.test.images[:1000]
    result = parity(onnx_logits(session, images.astype(np.float32) / 255.0), torch_logits(module, images))
    checks = {"gradient_mean_abs": gradient, "conversion_max_abs_diff": result.max_abs_diff,
              "conversion_argmax_agreement": result.argmax_agreement, "conversion_compared": len(images)}
    if result.max_abs_diff > profile.max_abs_diff or result.argmax_agreement < profile.min_argmax_agreement:
        raise ModelFileError(
            f"{path}: the onnx2torch conversion disagrees with onnxruntime (max |logit diff| "
            f"{result.max_abs_diff:.3g}, allowed {profile.max_abs_diff:g}; argmax agreement "
            f"{result.argmax_agreement:.4f}, required {profile.min_argmax_agreement:g}); the inversion would "
            "invert another model")
    return AuditModel(reference, module, sha256(path), path, registered, checks)
