"""The distillation stage's teacher: the ONNX export through onnxruntime on CPU (`auto`), or the
PyTorch model when asked; both answer alike."""

import argparse

import pytest
import torch

from netinv.export import OnnxRuntimeClassifier, export_onnx
from netinv.models import build_model, save_model
from stages.distill import load_teacher

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    torch.manual_seed(0)
    model = build_model("cnn", in_channels=1, image_size=(12, 12), num_classes=3, channels=(8,), hidden=16,
                        mean=[0.5], std=[0.5]).eval()
    folder = tmp_path_factory.mktemp("teacher")
    save_model(folder / "classifier.pt", model)
    export_onnx(model, (1, 12, 12), folder / "classifier.onnx")
    return argparse.Namespace(classifier=folder / "classifier.pt", onnx=folder / "classifier.onnx")


@pytest.mark.parametrize("runtime", ["auto", "onnxruntime"])
def test_on_cpu_the_teacher_is_the_export_run_by_onnxruntime(paths, runtime):
    assert isinstance(load_teacher(paths, runtime, CPU), OnnxRuntimeClassifier)


def test_asked_for_torch_the_teacher_is_the_pytorch_model_and_answers_alike(paths):
    pytorch = load_teacher(paths, "torch", CPU).eval()
    assert not isinstance(pytorch, OnnxRuntimeClassifier)
    x = torch.rand(4, 1, 12, 12)
    with torch.no_grad():
        assert torch.allclose(pytorch(x), load_teacher(paths, "auto", CPU)(x), atol=1e-5)


def test_a_mistyped_runtime_is_refused_by_the_params():
    from stages.config import ParamsError, validate_params

    with pytest.raises(ParamsError, match="teacher"):
        validate_params({"distill": {"teacher": "tensorrt"}})
