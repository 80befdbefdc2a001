import dataclasses

import pytest
import torch
from torch import nn

from netinv.config.inversion import GeneratorConfig, InversionConfig, LossWeights
from netinv.errors import TrainingDivergedError
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.pixel_opt import PixelOptConfig, invert_pixels
from netinv.inversion.trainer import generate, train_generator

CPU = torch.device("cpu")


def make_generator(mode: str = "vector") -> ConditionedGenerator:
    torch.manual_seed(0)
    return ConditionedGenerator(GeneratorConfig(num_classes=3, out_channels=1, image_size=(12, 12), mode=mode,
                                                latent_dim=8, width=8, embed_dim=4))


CONFIG = InversionConfig(generator_steps=40, batch_size=24, lr=3e-3, checkpoint_every=10,
                         weights=LossWeights(cos=0.5, orth=0.5, tv=0.1), jitter=1)


def fidelity(generator, classifier) -> float:
    labels = torch.arange(3).repeat_interleave(40)
    images = generate(generator, labels, 1.0, seed=5, device=CPU)
    with torch.no_grad():
        predicted = classifier(images.float() / 255).argmax(1)
    return (predicted == labels).float().mean().item()


@pytest.mark.parametrize("mode", ["label", "vector", "vector_matrix"])
def test_generator_learns_to_satisfy_the_classifier(one_thread, tiny_classifier, mode):
    generator = make_generator(mode)
    before = fidelity(generator, tiny_classifier)
    config = InversionConfig(generator_steps=150, batch_size=24, lr=3e-3,  # the papers' terms, no data-free extras
                             weights=LossWeights(ce=4.0, bn=0.5, adv=0.0))
    history = train_generator(generator, tiny_classifier, config, CPU, progress=False)
    assert fidelity(generator, tiny_classifier) >= 0.9 > before
    assert history[-1]["ce"] < history[0]["ce"]


def test_batch_norm_prior_and_jitter_train_too(one_thread, tiny_classifier):
    config = InversionConfig(generator_steps=60, batch_size=24, lr=3e-3, jitter=2, flip=True,
                             weights=LossWeights(ce=2.0, bn=0.2, mode_seeking=0.1))
    history = train_generator(make_generator(), tiny_classifier, config, CPU, progress=False, log_every=10)
    assert {"bn", "mode_seeking"} <= set(history[-1])
    assert history[-1]["bn"] < history[0]["bn"]  # the prior pulls batch statistics towards the recorded ones


def test_mode_seeking_pairs_share_their_conditioning_and_differ_in_z(tiny_classifier):
    from netinv.inversion.features import FeatureTap
    from netinv.inversion.trainer import inversion_losses

    generator = make_generator()
    config = InversionConfig(batch_size=24, weights=LossWeights(mode_seeking=1.0))
    seen = []
    generator.register_forward_hook(lambda module, inputs, output: seen.append(inputs))
    with FeatureTap(tiny_classifier, ["embedding"]) as tap:
        terms, _ = inversion_losses(generator, tiny_classifier, tap, None, config, torch.Generator().manual_seed(0), CPU)
    z, cond = seen[0]
    assert torch.equal(cond.vectors[:12], cond.vectors[12:]) and torch.equal(cond.labels[:12], cond.labels[12:])
    assert not torch.allclose(z[:12], z[12:])
    assert torch.isfinite(terms["mode_seeking"])


def test_mode_seeking_refuses_a_batch_it_cannot_pair():
    with pytest.raises(ValueError, match="batch_size must be even, got 25"):
        InversionConfig(generator_steps=1, batch_size=25, weights=LossWeights(mode_seeking=1.0))


class Interrupt(Exception):
    pass


def test_a_killed_run_resumes_and_ends_where_an_uninterrupted_one_does(one_thread, tiny_classifier, tmp_path):
    straight = make_generator()
    train_generator(straight, tiny_classifier, CONFIG, CPU, checkpoint=tmp_path / "a.pt", progress=False)

    resumed = make_generator()

    def die_at_step_25(record):
        if record["step"] == 25:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_generator(resumed, tiny_classifier, CONFIG, CPU, checkpoint=tmp_path / "b.pt", progress=False,
                        on_log=die_at_step_25, log_every=5)
    assert torch.load(tmp_path / "b.pt", weights_only=True)["step"] == 20  # the last checkpoint before the kill
    resumed = make_generator()  # a fresh process: nothing survives but the checkpoint
    train_generator(resumed, tiny_classifier, CONFIG, CPU, checkpoint=tmp_path / "b.pt", progress=False)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name


def test_a_checkpoint_of_another_classifier_is_not_resumed(one_thread, tiny_classifier, tmp_path, caplog):
    train_generator(make_generator(), tiny_classifier, CONFIG, CPU, checkpoint=tmp_path / "c.pt", progress=False)
    other = type(tiny_classifier)(tiny_classifier.config).eval()
    with caplog.at_level("WARNING"):
        train_generator(make_generator(), other, CONFIG, CPU, checkpoint=tmp_path / "c.pt", progress=False)
    assert "different parameters or weights; starting from step 0" in caplog.text


class NaNClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Sequential(nn.Flatten(), nn.Linear(144, 4))
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.embedding(x)) * float("nan")


def test_nan_loss_stops_with_the_step_and_the_parameter():
    with pytest.raises(TrainingDivergedError, match=r"step 1 .*lower the learning rate lr") as info:
        train_generator(make_generator(), NaNClassifier(), dataclasses.replace(CONFIG, weights=LossWeights(bn=0.0)),
                        CPU, progress=False)
    assert (info.value.field, info.value.config) == ("lr", "InversionConfig")


@pytest.mark.parametrize("priors", [{}, {"bn": 0.2, "jitter": 1}], ids=["plain", "deepinversion-priors"])
def test_pixel_optimisation_baseline_reaches_the_intended_labels(one_thread, tiny_classifier, priors):
    labels = torch.arange(3).repeat(20)
    images, steps = invert_pixels(tiny_classifier, labels, (1, 12, 12),
                                  PixelOptConfig(steps=100, batch_size=30, **priors), CPU)
    assert images.dtype == torch.uint8 and images.shape == (60, 1, 12, 12)
    with torch.no_grad():
        predicted = tiny_classifier(images.float() / 255).argmax(1)
    assert (predicted == labels).float().mean().item() >= 0.95
    assert steps <= 200  # it stops early once a batch is done


def test_pixel_optimisation_refines_given_images_instead_of_noise(one_thread, tiny_classifier):
    labels = torch.arange(3).repeat(4)
    start = torch.randint(0, 256, (12, 1, 12, 12), generator=torch.Generator().manual_seed(0)).to(torch.uint8)
    untouched, _ = invert_pixels(tiny_classifier, labels, (1, 12, 12), PixelOptConfig(steps=0), CPU, init=start)
    kept = start.clamp(3, 252).int()  # pixels start as logits, kept off +-inf: 0 and 255 move by about 3
    assert (untouched.int() - kept).abs().max() <= 1
    refined, _ = invert_pixels(tiny_classifier, labels, (1, 12, 12), PixelOptConfig(steps=60, batch_size=6), CPU,
                               init=start)
    with torch.no_grad():
        assert (tiny_classifier(refined.float() / 255).argmax(1) == labels).float().mean() >= 0.9
    assert (refined.int() - start.int()).abs().float().mean() < 48  # refined (30), not redrawn (about 85)
