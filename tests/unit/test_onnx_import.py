"""An ONNX classifier converted back to PyTorch: same logits, same features, differentiable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from netinv.errors import ModelFileError
from netinv.inversion.features import FeatureTap
from netinv.models import load_model
from netinv.models.onnx_import import check_differentiable, load_onnx_classifier, torch_logits
from netinv.splits import load_prepared


def test_converted_module_matches_the_original_and_exposes_its_features(audit_project, one_thread):
    converted = load_onnx_classifier(audit_project / "models/classifier.onnx")
    original = load_model(audit_project / "models/classifier.pt")
    images = load_prepared(audit_project / "data/prepared").test.images  # (90, 1, 12, 12) uint8
    assert np.abs(torch_logits(converted, images) - torch_logits(original, images)).max() < 1e-4
    x = torch.from_numpy(images).float() / 255.0
    with torch.no_grad():
        assert torch.allclose(converted.embed(x), original.embed(x).flatten(1), atol=1e-4)
    with FeatureTap(converted, ["embedding"]) as tap:  # what the inversion's diversity losses hook
        converted(x)
        assert tap.features[0].shape == (len(images), 16)
    assert check_differentiable(converted, (1, 12, 12)) > 0


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"definitely not protobuf")
    with pytest.raises(ModelFileError, match="not a readable ONNX model"):
        load_onnx_classifier(bad)
    with pytest.raises(ModelFileError, match="does not exist"):
        load_onnx_classifier(tmp_path / "missing.onnx")
