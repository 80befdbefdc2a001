import pickle

import pytest
import torch

from netinv.errors import ModelFileError
from netinv.models import build_model, load_model, save_model


@pytest.mark.parametrize("arch", ["cnn", "resnet", "mlp"])
@pytest.mark.parametrize(("shape", "classes"), [((1, 28, 28), 10), ((3, 32, 32), 10), ((1, 8, 8), 4)])
def test_models_map_images_to_logits_and_features(arch, shape, classes):
    model = build_model(arch, in_channels=shape[0], image_size=shape[1:], num_classes=classes,
                        mean=[0.5] * shape[0], std=[0.25] * shape[0]).eval()
    x = torch.rand(5, *shape)
    assert model(x).shape == (5, classes)
    features = model.embed(x)
    assert features.ndim == 2 and features.shape[0] == 5
    assert torch.allclose(model.head(features), model(x), atol=1e-5)


def test_too_many_blocks_for_the_image_is_explained():
    with pytest.raises(ValueError, match="use fewer channels") as info:
        build_model("cnn", in_channels=1, image_size=(4, 4), num_classes=2, channels=(8, 8, 8))
    assert (info.value.field, info.value.config) == ("channels", "CNNConfig")


@pytest.mark.parametrize("arch", ["cnn", "mlp"])
def test_roundtrip_restores_identical_outputs(tmp_path, arch):
    model = build_model(arch, in_channels=1, image_size=(12, 12), num_classes=3).eval()
    save_model(tmp_path / "m.pt", model, meta={"role": "classifier"})
    loaded = load_model(tmp_path / "m.pt")
    x = torch.rand(4, 1, 12, 12)
    assert torch.equal(model(x), loaded(x))
    assert not loaded.training


class _Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_code_is_refused_not_run(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"format": "netinv.model/1", "payload": _Payload()}, path)
    with pytest.raises(ModelFileError, match="weights_only=True"):
        load_model(path)
    assert "this must never run" not in capsys.readouterr().out


def test_bare_state_dict_is_explained(tmp_path):
    model = build_model("cnn", in_channels=1, image_size=(12, 12), num_classes=3)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ModelFileError, match="not a netinv model file.*lacks the architecture"):
        load_model(tmp_path / "sd.pt")


@pytest.mark.parametrize("content", [b"", b"not a torch file", pickle.dumps([1, 2, 3])[:5]])
def test_garbage_and_truncated_files(tmp_path, content):
    (tmp_path / "bad.pt").write_bytes(content)
    with pytest.raises(ModelFileError, match="bad.pt"):
        load_model(tmp_path / "bad.pt")


def test_truncated_real_checkpoint(tmp_path):
    model = build_model("cnn", in_channels=1, image_size=(12, 12), num_classes=3)
    save_model(tmp_path / "m.pt", model)
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "m.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        load_model(tmp_path / "m.pt")


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "none.pt")
