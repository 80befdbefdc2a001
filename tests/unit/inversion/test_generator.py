import dataclasses

import pytest
import torch

from netinv.config.inversion import MODES, GeneratorConfig
from netinv.inversion import (
    ConditionedGenerator,
    Conditioning,
    cross_entropy_loss,
    kl_loss,
    sample_conditioning,
)
from netinv.models import build_model


def _make(mode: str, shape=(1, 8, 8), classes: int = 3, **overrides) -> ConditionedGenerator:
    torch.manual_seed(0)
    config = GeneratorConfig(num_classes=classes, out_channels=shape[0], image_size=shape[1:], mode=mode,
                             latent_dim=8, width=8, embed_dim=4, **overrides)
    return ConditionedGenerator(config)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "classes"), [((1, 28, 28), 10), ((3, 32, 32), 10), ((1, 8, 8), 3)])
def test_output_has_the_classifier_shape_and_range(mode, shape, classes):
    g = _make(mode, shape, classes)
    gen = torch.Generator().manual_seed(0)
    z = g.sample_latent(6, generator=gen)
    assert z.shape == (6, 8)
    x = g(z, sample_conditioning(mode, 6, classes, generator=gen))
    assert x.shape == (6, *shape)
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_config_is_saveable_as_a_plain_dict():
    g = _make("vector_matrix")
    assert dataclasses.asdict(g.config)["mode"] == "vector_matrix"
    assert ConditionedGenerator(GeneratorConfig(**dataclasses.asdict(g.config))).config == g.config


def test_sizes_not_divisible_by_four_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"\(30, 30\) must have both sides divisible by 4"):
        _make("label", (1, 30, 30))


def test_too_small_a_base_map_for_the_matrix_is_refused():
    with pytest.raises(ValueError, match="not all distinct"):
        _make("matrix", (1, 8, 8), classes=10)
    _make("vector", (1, 8, 8), classes=10)  # no matrix, no limit


def test_bad_inputs_are_explained():
    g = _make("vector")
    cond = sample_conditioning("vector", 4, 3)
    with pytest.raises(ValueError, match=r"z must have shape \(B, 8\)"):
        g(torch.zeros(4, 5), cond)
    with pytest.raises(ValueError, match="cond.vectors must have shape"):
        g(torch.zeros(4, 8), Conditioning(cond.labels, cond.vectors[:, :2]))


def test_dropout_is_active_in_train_mode_only():
    g = _make("vector_matrix", dropout=0.5)
    cond = sample_conditioning("vector_matrix", 4, 3, generator=torch.Generator().manual_seed(0))
    z = torch.randn(4, 8)
    g.train()
    assert not torch.allclose(g(z, cond), g(z, cond))
    g.eval()
    assert torch.equal(g(z, cond), g(z, cond))


def test_label_mode_reads_the_labels_not_the_vectors():
    g = _make("label").eval()
    z = torch.randn(3, 8).repeat(2, 1)
    labels = torch.tensor([0, 1, 2, 1, 2, 0])
    cond = sample_conditioning("label", 6, 3, labels=labels)
    x = g(z, cond)
    assert not torch.allclose(x[:3], x[3:])  # same z, other labels
    swapped = Conditioning(labels, torch.rand(6, 3))
    assert torch.equal(g(z, swapped), x)


@pytest.mark.parametrize("mode", ["vector", "vector_matrix"])
def test_vector_modes_never_read_the_integer_label(mode):
    g = _make(mode).eval()
    cond = sample_conditioning(mode, 4, 3, generator=torch.Generator().manual_seed(0))
    z = torch.randn(4, 8)
    other = Conditioning((cond.labels + 1) % 3, cond.vectors)
    assert torch.equal(g(z, cond), g(z, other))
    sharper = Conditioning(cond.labels, torch.softmax(cond.vectors.log() * 3, dim=1))  # same argmax
    assert not torch.allclose(g(z, cond), g(z, sharper))


def test_matrix_mode_gets_the_label_only_through_the_matrix():
    g = _make("matrix").eval()
    z = torch.randn(1, 8).repeat(3, 1)  # same z for the three classes
    x = g(z, sample_conditioning("matrix", 3, 3, labels=torch.tensor([0, 1, 2])))
    assert not torch.allclose(x[0], x[1]) and not torch.allclose(x[1], x[2])
    assert g.project.in_features == 8  # z only at the input


def test_sampling_the_latent_is_reproducible():
    g = _make("label")
    a = g.sample_latent(5, generator=torch.Generator().manual_seed(3))
    b = g.sample_latent(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def _bars(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images with a bright bar whose row is the class (3 classes, 1 x 8 x 8)."""
    labels = torch.arange(n) % 3
    images = torch.rand(n, 1, 8, 8, generator=gen) * 0.3
    for k in range(3):
        images[labels == k, :, 1 + 2 * k : 3 + 2 * k, 1:7] = 1.0
    return images, labels


def test_generator_inverts_a_small_classifier(one_thread):
    """End to end: CE + KL alone teach G to produce what the frozen classifier calls each class."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    classifier = build_model("cnn", in_channels=1, image_size=(8, 8), num_classes=3, channels=(8,), hidden=16)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-2)
    for _ in range(30):
        images, labels = _bars(48, gen)
        loss = torch.nn.functional.cross_entropy(classifier(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    classifier.eval().requires_grad_(False)

    generator = ConditionedGenerator(GeneratorConfig(num_classes=3, out_channels=1, image_size=(8, 8),
                                                     latent_dim=16, width=16, embed_dim=8))
    optimizer = torch.optim.Adam(generator.parameters(), lr=2e-3)
    for _ in range(200):
        cond = sample_conditioning("vector_matrix", 32, 3, generator=gen)
        logits = classifier(generator(generator.sample_latent(32, generator=gen), cond))
        loss = cross_entropy_loss(logits, cond.labels) + kl_loss(logits, cond.vectors)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    generator.eval()
    with torch.no_grad():
        cond = sample_conditioning("vector_matrix", 300, 3, generator=gen)
        predicted = classifier(generator(generator.sample_latent(300, generator=gen), cond)).argmax(1)
    fidelity = (predicted == cond.labels).float().mean().item()
    assert fidelity >= 0.9
