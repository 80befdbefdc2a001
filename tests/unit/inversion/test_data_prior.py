"""Data-statistics probes: a BN-style prior for an ONNX classifier whose batch norm was folded away."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from netinv.export import export_onnx
from netinv.inversion.data_prior import StatsProbe, StatsProbe1d, add_data_stats_probes
from netinv.inversion.features import BatchNormStatsPrior
from netinv.models import build_model
from netinv.models.onnx_import import load_onnx_classifier, torch_logits


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A small CNN with batch norm (non-trivial running statistics), exported to ONNX and converted back."""
    torch.manual_seed(0)
    model = build_model("cnn", in_channels=1, image_size=(12, 12), num_classes=3, channels=(4, 6), hidden=16,
                        mean=[0.3], std=[0.2]).eval()
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("onnx") / "m.onnx"
    export_onnx(model, (1, 12, 12), path)
    return load_onnx_classifier(path)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, size=(1, 1, 12, 12))
    return np.clip(base + rng.integers(-40, 41, size=(40, 1, 12, 12)), 0, 255).astype(np.uint8)  # (40, 1, 12, 12)


def test_probes_leave_the_output_unchanged_and_carry_the_conv_statistics(converted, images, one_thread):
    assert not any(isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) for m in converted.modules())  # folded
    probed = copy.deepcopy(converted)
    convs = [m for m in probed.modules() if isinstance(m, nn.Conv2d)]
    hidden = [m for m in probed.modules() if isinstance(m, nn.Linear)][:-1]  # the head gets no probe
    layers = convs + hidden
    assert len(convs) == 2 and len(hidden) == 1
    assert add_data_stats_probes(probed, images, batch_size=16) == 3  # 16: several batches merged
    probes = [m for m in probed.modules() if isinstance(m, StatsProbe | StatsProbe1d)]
    assert [type(p) for p in probes] == [StatsProbe, StatsProbe, StatsProbe1d] and not probed.training
    np.testing.assert_allclose(torch_logits(probed, images), torch_logits(converted, images), atol=1e-6)

    outputs = {}
    handles = [layer.register_forward_hook(lambda m, i, o: outputs.__setitem__(m, o)) for layer in layers]
    with torch.no_grad():
        logits = probed(torch.from_numpy(images).float() / 255.0)
    for handle in handles:
        handle.remove()
    assert logits.shape == (40, 3)
    for layer, probe in zip(layers, probes, strict=True):  # registration order: layer i feeds probe i
        out = outputs[layer].double()
        dims = [0, *range(2, out.ndim)]  # all but the channel axis
        torch.testing.assert_close(probe.running_mean.double(), out.mean(dim=dims), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(probe.running_var.double(), out.var(dim=dims, unbiased=False),
                                   rtol=1e-5, atol=1e-6)


def test_the_bn_prior_applies_to_the_probed_model(converted, images, one_thread):
    with pytest.raises(ValueError, match="no batch norm"):
        BatchNormStatsPrior(converted)
    probed = copy.deepcopy(converted)
    add_data_stats_probes(probed, torch.from_numpy(images).float() / 255.0)  # float input: taken as scaled
    with BatchNormStatsPrior(probed) as prior:
        assert prior.num_layers == 3
        with torch.no_grad():
            probed(torch.from_numpy(images).float() / 255.0)
            real = float(prior.loss())
            probed(torch.rand(40, 1, 12, 12, generator=torch.Generator().manual_seed(1)))
            noise = float(prior.loss())
    assert real < 1e-4
    assert noise > 0.1 and noise > 1000 * real


def test_only_hidden_layers_get_probes():
    head_only = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    assert add_data_stats_probes(head_only, np.zeros((3, 1, 2, 2), np.uint8)) == 0
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    assert add_data_stats_probes(mlp, np.zeros((3, 1, 2, 2), np.uint8), hidden_linear=False) == 0
    assert add_data_stats_probes(mlp, np.zeros((3, 1, 2, 2), np.uint8)) == 1
    assert isinstance(mlp[1], nn.Sequential) and isinstance(mlp[1][1], StatsProbe1d)
