import numpy as np
import pytest
import torch
from torch import nn

from netinv.config.models import TrainConfig
from netinv.device import resolve_device
from netinv.errors import TrainingDivergedError
from netinv.metrics.classification import classification_report
from netinv.models import build_model
from netinv.training import descend, fit, predict_logits, random_translate

CPU = torch.device("cpu")


def test_fit_learns_a_separable_task(blobs):
    images, labels = blobs
    torch.manual_seed(0)
    model = build_model("cnn", in_channels=1, image_size=(12, 12), num_classes=3, channels=(8,), hidden=16)
    before = (predict_logits(model, images[500:], CPU).argmax(1) == labels[500:]).mean()
    history = fit(model, images[:500], labels[:500], images[500:], labels[500:],
                  TrainConfig(epochs=3, batch_size=50, lr=5e-3), CPU, progress=False)
    assert [r.epoch for r in history] == [1, 2, 3]
    assert history[-1].val_accuracy >= 0.95 > before
    assert history[-1].train_loss < history[0].train_loss


def test_fit_is_deterministic_on_cpu(blobs):
    images, labels = blobs
    results = []
    for _ in range(2):
        torch.manual_seed(1)
        model = build_model("resnet", in_channels=1, image_size=(12, 12), num_classes=3, width=8, groups=4)
        history = fit(model, images[:300], labels[:300], images[300:400], labels[300:400],
                      TrainConfig(epochs=1, batch_size=64, augment_shift=1, seed=3), CPU, progress=False)
        results.append((history[-1].train_loss, predict_logits(model, images[400:], CPU)))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


class _Exploding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float("inf")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :3] * self.scale


def test_nan_loss_stops_with_the_step_and_the_fix(blobs):
    images, labels = blobs
    with pytest.raises(TrainingDivergedError, match=r"epoch 1, step 1; lower the learning rate \(lr is"):
        fit(_Exploding(), images, labels, images, labels, TrainConfig(epochs=1), CPU, progress=False)


def test_descend_refuses_a_nan_before_the_weights_take_it():
    layer = nn.Linear(3, 1)
    before = layer.weight.detach().clone()
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    terms = {"fit": layer(torch.ones(1, 3)).sum(), "penalty": torch.tensor(float("nan"))}
    with pytest.raises(TrainingDivergedError, match=r"loss became nan at step 7 \(non-finite: \['penalty'\]\)") as info:
        descend(sum(terms.values()), optimizer, config="DistillConfig", terms=terms,
                diverged="loss became {loss} at step 7 (non-finite: {bad})")
    assert torch.equal(layer.weight, before)
    assert info.value.field == "lr" and info.value.config == "DistillConfig"


def test_descend_steps_the_optimiser_the_schedule_and_only_the_inputs_given():
    frozen, trained = nn.Linear(3, 1), nn.Linear(1, 1)
    optimizer = torch.optim.SGD([*frozen.parameters(), *trained.parameters()], lr=0.1)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    frozen_before, trained_before = frozen.weight.detach().clone(), trained.weight.detach().clone()
    loss = trained(frozen(torch.ones(2, 3))).pow(2).sum()
    descend(loss, optimizer, schedule, config="TrainConfig", diverged="{loss}", inputs=list(trained.parameters()))
    assert torch.equal(frozen.weight, frozen_before)  # no gradient reached it
    assert not torch.equal(trained.weight, trained_before)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_random_translate_keeps_content_and_shape():
    x = torch.zeros(4, 1, 10, 10)
    x[:, :, 4:6, 4:6] = 1.0
    shifted = random_translate(x, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    assert torch.all(shifted.sum(dim=(1, 2, 3)) == 4)  # the 2x2 square moves but stays whole


def test_classification_report_on_a_known_case():
    logits = np.array([[2, 0], [0, 1], [3, 1], [0, 5]], dtype=float)
    report = classification_report(logits, np.array([0, 1, 1, 1]), ["a", "b"])
    assert report["test_accuracy"] == 0.75
    assert report["per_class_accuracy"] == {"a": 1.0, "b": pytest.approx(2 / 3)}
    assert report["confusion_matrix"] == [[1, 0], [1, 2]]
    assert report["worst_class"] == "b"


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="use the device 'auto'") as info:
            resolve_device("cuda")
        assert info.value.field == "device"
