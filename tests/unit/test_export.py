import numpy as np
import pytest
import torch

from netinv.errors import ModelFileError
from netinv.export import (
    OnnxRuntimeClassifier,
    check_input_contract,
    export_onnx,
    onnx_logits,
    onnx_session,
    parity,
)
from netinv.models import build_model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("cnn", in_channels=1, image_size=(12, 12), num_classes=3, channels=(8,), hidden=16,
                        mean=[0.3], std=[0.2]).eval()
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    export_onnx(model, (1, 12, 12), path)
    return model, path


def test_export_is_one_self_contained_file(exported):
    _, path = exported
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.onnx"]


@pytest.mark.parametrize("batch", [1, 7, 300])
def test_onnx_matches_pytorch_at_any_batch_size(exported, batch):
    model, path = exported
    x = np.random.default_rng(batch).random((batch, 1, 12, 12), dtype=np.float32)
    with torch.no_grad():
        reference = model(torch.from_numpy(x)).numpy()
    result = parity(reference, onnx_logits(onnx_session(path), x, batch_size=128))
    assert result.max_abs_diff < 1e-5
    assert result.argmax_agreement == 1.0


@pytest.mark.parametrize("spin", [None, False])
def test_the_runtime_classifier_answers_as_the_pytorch_model(exported, spin):
    """The distillation teacher on CPU: same logits as PyTorch, a tensor back, no gradient, with or
    without its threads spinning between calls."""
    model, path = exported
    teacher = OnnxRuntimeClassifier(path, threads=1, spin=spin).eval()
    x = torch.rand(5, 1, 12, 12, requires_grad=True)
    logits = teacher(x)
    with torch.no_grad():
        reference = model(x)
    assert logits.shape == (5, 3) and logits.dtype == torch.float32 and not logits.requires_grad
    assert torch.allclose(logits, reference, atol=1e-5)
    assert list(teacher.parameters()) == []  # nothing to train, nothing to move


def test_a_runtime_classifier_on_a_file_that_is_not_onnx_is_refused(tmp_path):
    bogus = tmp_path / "teacher.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="re-export"):
        OnnxRuntimeClassifier(bogus)


def test_normalisation_is_inside_the_graph(exported):
    """Raw [0, 1] input gives the model's logits: no preprocessing left to the user."""
    model, path = exported
    x = np.full((2, 1, 12, 12), 0.3, dtype=np.float32)  # = the model's mean: normalised to zero
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(onnx_logits(onnx_session(path), x), expected, atol=1e-5)


def test_wrong_input_shape_is_refused(exported):
    _, path = exported
    session = onnx_session(path)
    check_input_contract(session, (1, 12, 12), path)
    with pytest.raises(ModelFileError, match=r"expects input.*\(N, 3, 32, 32\).*matching dataset"):
        check_input_contract(session, (3, 32, 32), path)


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    (tmp_path / "fake.onnx").write_bytes(b"PK\x03\x04 definitely not a model")
    with pytest.raises(ModelFileError, match="fake.onnx is not a loadable ONNX model"):
        onnx_session(tmp_path / "fake.onnx")


def test_parity_detects_disagreement():
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    b = np.array([[1.0, 0.5], [2.0, 1.0]])
    result = parity(a, b)
    assert result.max_abs_diff == 2.0
    assert result.argmax_agreement == 0.5
