"""The distillation core on a tiny synthetic task: a student learns from a teacher's soft labels
on informative images, learns nothing from noise the teacher has no opinion on, and bad
settings fail with messages that name the fix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from torch import nn

from netinv.config.distill import DistillConfig, StudentConfig
from netinv.config.inversion import GeneratorConfig
from netinv.distill import (
    distill,
    fixed_source,
    generator_source,
    kd_loss,
    new_student,
    noise_images,
)
from netinv.inversion.generator import ConditionedGenerator

SIZE, CLASSES, BAND = 16, 3, 5
CPU = torch.device("cpu")


def bands(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Dark noise with a bright horizontal band; the band's rows are the class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % CLASSES
    images = rng.integers(0, 60, size=(count, 1, SIZE, SIZE)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 0, c * BAND : (c + 1) * BAND] = rng.integers(200, 256, size=(BAND, SIZE))
    return images, labels.astype(np.int64)


class BandTeacher(nn.Module):
    """Confident on a bright band, silent (all logits 0) elsewhere: uniform noise, whose band
    means sit near 0.5, teaches nothing."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        means = torch.stack([x[:, 0, c * BAND : (c + 1) * BAND].mean(dim=(1, 2)) for c in range(CLASSES)], dim=1)
        return 40.0 * torch.relu(means - 0.6)


STUDENT = StudentConfig(in_channels=1, image_size=(SIZE, SIZE), num_classes=CLASSES, student_channels=(4, 8),
                        student_hidden=(16,))
CONFIG = DistillConfig(steps=80, batch_size=32, lr=1e-2, temperature=2.0, augment_shift=1, eval_every=40)


@pytest.fixture(scope="module")
def splits():
    return bands(90, seed=1), bands(150, seed=2)


def test_student_learns_from_informative_images_and_not_from_noise(splits):
    val, test = splits
    images, _ = bands(120, seed=0)  # the labels are never read: the teacher's answers are the targets
    learned = distill(BandTeacher(), fixed_source(images), val, test, STUDENT, CONFIG, CPU)
    floor = distill(BandTeacher(), fixed_source(noise_images(120, (1, SIZE, SIZE), 0)), val, test, STUDENT, CONFIG, CPU)
    assert learned.test_accuracy > 0.9 and learned.val_accuracy > 0.9
    assert floor.test_accuracy < 0.6  # chance is 1/3
    assert [row["step"] for row in learned.history] == [40, 80]
    assert learned.history[-1]["val_accuracy"] == learned.val_accuracy


def test_students_start_from_the_same_weights_whatever_the_source():
    a, b = new_student(STUDENT, seed=3), new_student(STUDENT, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    x = torch.rand(2, 1, SIZE, SIZE)
    assert a(x).shape == (2, CLASSES) and a.embed(x).shape == (2, 16)


def test_kd_loss_is_zero_on_agreement_and_scaled_by_t_squared():
    t = torch.randn(8, CLASSES)
    assert kd_loss(t, t, 4.0).item() == pytest.approx(0.0, abs=1e-6)
    s = torch.randn(8, CLASSES)
    plain = torch.nn.functional.kl_div(torch.log_softmax(s / 4, 1), torch.softmax(t / 4, 1), reduction="batchmean")
    assert kd_loss(s, t, 4.0).item() == pytest.approx(16 * plain.item())


def test_generator_source_draws_fresh_balanced_uint8_batches():
    generator = ConditionedGenerator(GeneratorConfig(num_classes=CLASSES, out_channels=1, image_size=(SIZE, SIZE),
                                                     latent_dim=8, width=4, embed_dim=4))
    draw = generator_source(generator, temperature=0.05, dropout=True, device=CPU)
    rng = torch.Generator().manual_seed(0)
    first, second = draw(6, rng), draw(6, rng)
    assert first.dtype == torch.uint8 and first.shape == (6, 1, SIZE, SIZE)
    assert not torch.equal(first, second)
    assert all(not p.requires_grad or p.grad is None for p in generator.parameters())


@pytest.mark.parametrize(("build", "message"), [
    (lambda: DistillConfig(steps=10, eval_every=20), "lower eval_every"),
    (lambda: DistillConfig(temperature=0.0), "temperature"),
    (lambda: DistillConfig(augment_shift=9), "augment_shift"),
])
def test_bad_settings_name_the_field_and_the_fix(build, message):
    with pytest.raises(ValidationError, match=message):
        build()


def test_fixed_source_refuses_float_or_empty_arrays():
    with pytest.raises(ValueError, match="uint8 images"):
        fixed_source(np.zeros((4, 1, SIZE, SIZE), np.float32))
    with pytest.raises(ValueError, match="at least one image"):
        fixed_source(np.zeros((0, 1, SIZE, SIZE), np.uint8))


def test_the_student_takes_images_smaller_than_lenet_needs():
    from netinv.models.student import LeNetStudent

    student = LeNetStudent(StudentConfig(in_channels=1, image_size=(12, 8), num_classes=3))
    assert student(torch.rand(2, 1, 12, 8)).shape == (2, 3)


def test_cutmix_pastes_one_box_from_another_image_of_the_batch():
    from netinv.distill.augment import cutmix

    x = torch.arange(8, dtype=torch.float32).view(8, 1, 1, 1).expand(8, 1, SIZE, SIZE).clone()  # image i is all i
    mixed = cutmix(x, 1.0, torch.Generator().manual_seed(0))
    again = cutmix(x, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(mixed, again) and mixed.shape == x.shape and torch.equal(x[:, 0, 0, 0], torch.arange(8.0))
    pasted = mixed != x
    assert pasted.any(), "seed 0 draws a non-empty box"
    box = pasted.any(dim=0)[0]  # the same box in every image whose partner differs
    rows, cols = box.any(1).nonzero().flatten(), box.any(0).nonzero().flatten()
    assert box[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all(), "one rectangle"
    for i in range(8):
        values = mixed[i].unique()
        assert i in values.tolist() and len(values) <= 2, "its own pixels and at most one partner's"


def test_cutmix_draws_differ_across_batches_and_alpha_is_validated():
    from netinv.distill.augment import cutmix

    x = torch.rand(16, 1, SIZE, SIZE)
    rng = torch.Generator().manual_seed(1)
    assert not torch.equal(cutmix(x, 1.0, rng), cutmix(x, 1.0, rng))
    assert DistillConfig().cutmix == 1.0 and DistillConfig(cutmix=0.0).cutmix == 0.0
    with pytest.raises(ValidationError, match="cutmix"):
        DistillConfig(cutmix=-1.0)
