import pytest
import torch
from torch import nn

from netinv.inversion import BatchNormStatsPrior, FeatureTap, default_feature_layer
from netinv.models import build_model


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    return build_model("cnn", in_channels=1, image_size=(28, 28), num_classes=10, channels=(8,), hidden=16).eval()


def _resnet() -> nn.Module:
    torch.manual_seed(0)
    return build_model("resnet", in_channels=1, image_size=(8, 8), num_classes=3, width=8, groups=4).eval()


def test_tap_returns_the_penultimate_features_and_removes_its_hooks():
    model = _cnn()
    x = torch.rand(5, 1, 28, 28)
    with FeatureTap(model, ["embedding", "features"]) as tap:
        model(x)
        embedding, conv = tap.features
        assert embedding.shape == (5, 16)
        assert conv.shape == (5, 8 * 14 * 14)  # flattened (B, C, H, W)
        assert torch.allclose(embedding, model.embed(x))
    assert not model.embedding._forward_hooks


def test_tapped_features_carry_gradients_to_the_input():
    model = _cnn()
    x = torch.rand(4, 1, 28, 28, requires_grad=True)
    with FeatureTap(model, ["embedding"]) as tap:
        model(x)
        tap.features[0].pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_tap_before_a_forward_and_unknown_names_are_explained():
    model = _cnn()
    with pytest.raises(ValueError, match=r"unknown feature layer\(s\) \['penultimate'\].*'embedding'"):
        FeatureTap(model, ["penultimate"])
    with FeatureTap(model, ["embedding"]) as tap, pytest.raises(RuntimeError, match="have not run"):
        _ = tap.features


def test_default_feature_layer_finds_the_penultimate_module():
    assert default_feature_layer(_cnn()) == "embedding"
    resnet = _resnet()
    assert default_feature_layer(resnet) == "pool"
    with FeatureTap(resnet, [default_feature_layer(resnet)]) as tap:
        x = torch.rand(3, 1, 8, 8)
        resnet(x)
        assert torch.allclose(tap.features[0], resnet.embed(x))
    nested = nn.Sequential(nn.Flatten(), nn.Sequential(nn.Linear(4, 6), nn.ReLU()), nn.Dropout(), nn.Linear(6, 2))
    assert default_feature_layer(nested) == "1"
    with pytest.raises(ValueError, match="name the feature layer"):
        default_feature_layer(nn.Sequential(nn.Conv2d(1, 2, 3)))


def test_batch_norm_prior_is_positive_and_differentiable():
    model = _cnn()
    x = torch.rand(6, 1, 28, 28, requires_grad=True)
    with BatchNormStatsPrior(model) as prior:
        assert prior.num_layers == 2  # BatchNorm2d in the conv block, BatchNorm1d in the embedding
        model(x)
        loss = prior.loss()
        assert loss.ndim == 0 and loss.item() > 0
        loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert not any(m._forward_hooks for m in model.modules())


def test_batch_norm_prior_matches_a_hand_computation():
    bn = nn.BatchNorm1d(2).eval()
    bn.running_mean.copy_(torch.tensor([1.0, 0.0]))
    bn.running_var.copy_(torch.tensor([1.0, 4.0]))
    x = torch.tensor([[0.0, 1.0], [2.0, -1.0]])  # mean [1, 0], biased var [1, 1]
    with BatchNormStatsPrior(nn.Sequential(bn)) as prior:
        bn(x)
        assert prior.loss().item() == pytest.approx(0.0 + 3.0)  # ||[0, 0]|| + ||[0, -3]||


def test_batch_norm_prior_refuses_a_model_without_batch_norm():
    with pytest.raises(ValueError, match="has no batch norm.*set its weight"):
        BatchNormStatsPrior(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="has no batch norm"):
        BatchNormStatsPrior(_resnet())  # group norm keeps no running statistics
