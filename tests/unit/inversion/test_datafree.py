"""The data-free terms on small tensors: the property each is there for, and its sign."""

import math

import pytest
import torch
from torch import nn

from netinv.config.inversion import GeneratorConfig, InversionConfig, LossWeights
from netinv.inversion.datafree import (
    MemoryBank,
    adversarial_loss,
    contrastive_loss,
    js_divergence,
    random_views,
)
from netinv.inversion.features import BatchNormStatsPrior
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.trainer import train_generator
from tests.unit.inversion.test_trainer import CPU, make_generator


def test_adversarial_term_is_highest_when_student_agrees_and_falls_with_disagreement():
    teacher = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    assert adversarial_loss(teacher, teacher).item() == pytest.approx(math.log(2))
    disagreeing = torch.tensor([[0.0, 4.0, 0.0], [4.0, 0.0, 0.0]])
    assert adversarial_loss(teacher, disagreeing) < adversarial_loss(teacher, teacher * 0.5) < math.log(2)
    assert 0 <= adversarial_loss(teacher * 100, disagreeing * 100).item() < 1e-3  # disjoint answers: ~0


def test_adversarial_gradient_pushes_the_student_logits_away_from_the_teacher():
    teacher = torch.tensor([[3.0, 0.0, 0.0]])
    student = torch.tensor([[2.0, 0.0, 0.0]], requires_grad=True)
    adversarial_loss(teacher, student).backward()
    assert student.grad[0, 0] > 0  # descending the loss lowers the logit the teacher favours


def test_js_divergence_is_symmetric_and_bounded():
    a, b = torch.randn(5, 4), torch.randn(5, 4)
    assert js_divergence(a, b).item() == pytest.approx(js_divergence(b, a).item(), abs=1e-6)
    assert 0 <= js_divergence(a, b).item() <= math.log(2)


def test_contrastive_loss_is_lower_for_distinct_than_for_duplicated_samples():
    torch.manual_seed(0)
    distinct = torch.randn(16, 32)
    duplicated = distinct[:1].repeat(16, 1)
    noise = 0.05
    loss_distinct = contrastive_loss(distinct, distinct + noise * torch.randn(16, 32), None, 0.1)
    loss_duplicated = contrastive_loss(duplicated, duplicated + noise * torch.randn(16, 32), None, 0.1)
    assert loss_distinct < 0.5 * loss_duplicated


def test_contrastive_loss_rises_when_the_bank_holds_copies_of_the_batch():
    torch.manual_seed(0)
    batch = torch.randn(8, 16)
    view = batch + 0.05 * torch.randn(8, 16)
    far = contrastive_loss(batch, view, -batch, 0.1)  # earlier samples unlike these ones
    near = contrastive_loss(batch, view, batch.clone(), 0.1)  # the generator repeats itself
    assert near > far


def test_memory_bank_keeps_the_newest_rows_and_round_trips():
    bank = MemoryBank(size=5)
    bank.push(torch.zeros(3, 2))
    bank.push(torch.ones(4, 2))
    assert bank.rows.shape == (5, 2) and bank.rows[:4].eq(1).all() and bank.rows[4].eq(0).all()
    copy = MemoryBank(size=5)
    copy.load_state_dict(bank.state_dict(), CPU)
    assert torch.equal(copy.rows, bank.rows)


def test_random_views_keep_shape_differ_per_sample_and_are_identity_when_off():
    images = torch.rand(6, 1, 12, 12)
    rng = torch.Generator().manual_seed(0)
    assert random_views(images, 0.0, 0, rng) is images
    viewed = random_views(images.repeat(1, 1, 1, 1)[:1].repeat(6, 1, 1, 1), 0.3, 1, rng)
    assert viewed.shape == (6, 1, 12, 12)
    assert not torch.allclose(viewed[0], viewed[1])  # each sample gets its own crop


def test_batch_norm_prior_is_zero_when_the_batch_matches_the_running_statistics():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    x = torch.randn(64, 1, 8, 8)
    model.train()
    with torch.no_grad():
        model[1].momentum = 1.0  # running statistics := this batch's
        model(x)
    model.eval()
    with BatchNormStatsPrior(model) as prior:
        model(x)
        assert prior.loss().item() < 1e-3  # only the unbiased/biased variance factor differs
        model(x * 3 + 1)
        assert prior.loss().item() > 1.0


def test_generator_trains_with_every_data_free_term_on(one_thread, tiny_classifier):
    config = InversionConfig(generator_steps=30, batch_size=24, lr=3e-3, crop=0.2,
                             weights=LossWeights(ce=2.0, adv=0.5, contrast=0.5), memory_size=48)
    student = lambda: nn.Sequential(nn.Flatten(), nn.Linear(144, 3))  # noqa: E731
    history = train_generator(make_generator(), tiny_classifier, config, CPU, progress=False, log_every=10,
                              student=student)
    assert {"adv", "contrast"} <= set(history[-1])
    assert all(math.isfinite(record["loss"]) for record in history)


def test_adversary_defaults_to_the_lenet_student(tiny_classifier):
    from netinv.inversion.trainer import data_free_terms
    from netinv.models.student import LeNetStudent

    generator = ConditionedGenerator(GeneratorConfig(num_classes=3, out_channels=1, image_size=(28, 28)))
    config = InversionConfig(weights=LossWeights(adv=1.0))
    terms = data_free_terms(config, generator, None, CPU)
    assert isinstance(terms.adversary.student, LeNetStudent) and terms.bank is None
    off = InversionConfig(weights=LossWeights(adv=0.0, contrast=0.0))
    assert data_free_terms(off, generator, None, CPU) is None  # both off: no state, no cost


def test_adversary_refuses_a_nan_before_its_student_changes():
    from netinv.errors import TrainingDivergedError
    from netinv.inversion.datafree import Adversary

    torch.manual_seed(0)
    adversary = Adversary(nn.Sequential(nn.Flatten(), nn.Linear(16, 3)), lr=0.1, temperature=4.0)
    before = [p.detach().clone() for p in adversary.student.parameters()]
    teacher = torch.full((2, 3), float("nan"))
    with pytest.raises(TrainingDivergedError, match="adversary student") as refused:
        adversary.learn(torch.rand(2, 1, 4, 4), teacher)
    assert refused.value.field == "student_lr"  # the stage's message names invert.student_lr
    assert all(torch.equal(a, b) for a, b in zip(before, adversary.student.parameters(), strict=True))
    assert math.isfinite(adversary.learn(torch.rand(2, 1, 4, 4), torch.randn(2, 3)))  # a finite batch still steps
