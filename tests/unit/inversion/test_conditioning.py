import pytest
import torch

from netinv.config.inversion import MODES
from netinv.inversion import label_matrix, matrices_are_distinct, sample_conditioning


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_gives_balanced_labels_and_distributions(mode):
    cond = sample_conditioning(mode, 20, 10, generator=_gen())
    assert cond.labels.shape == (20,) and cond.labels.dtype == torch.int64
    assert cond.vectors.shape == (20, 10) and cond.vectors.dtype == torch.float32
    assert torch.bincount(cond.labels, minlength=10).tolist() == [2] * 10
    assert not torch.equal(cond.labels, torch.arange(20) % 10)  # shuffled
    assert torch.allclose(cond.vectors.sum(dim=1), torch.ones(20))
    assert torch.equal(cond.vectors.argmax(dim=1), cond.labels)


@pytest.mark.parametrize("mode", ["label", "matrix"])
def test_label_modes_use_one_hot_vectors(mode):
    cond = sample_conditioning(mode, 7, 3, generator=_gen())
    assert torch.equal(cond.vectors, torch.nn.functional.one_hot(cond.labels, 3).float())
    assert torch.bincount(cond.labels, minlength=3).tolist() in ([3, 2, 2], [2, 3, 2], [2, 2, 3])


@pytest.mark.parametrize("mode", ["vector", "vector_matrix"])
def test_vector_modes_use_soft_vectors_peaked_at_the_label(mode):
    cond = sample_conditioning(mode, 200, 10, generator=_gen(1))
    assert torch.equal(cond.vectors.argmax(dim=1), cond.labels)
    assert (cond.vectors.max(dim=1).values < 1.0).all()  # soft, not one-hot
    assert (cond.vectors > 0).all()
    # different rows differ (a continuum of conditionings)
    assert torch.unique(cond.vectors, dim=0).shape[0] == 200


def test_lower_temperature_sharpens_the_vectors():
    peaks = {
        t: sample_conditioning("vector", 500, 10, temperature=t, generator=_gen(2)).vectors.max(1).values.mean()
        for t in (0.3, 1.0, 3.0)
    }
    assert peaks[0.3] > peaks[1.0] > peaks[3.0] > 0.1


def test_given_labels_are_kept_and_checked():
    labels = torch.tensor([2, 0, 2, 1])
    cond = sample_conditioning("vector_matrix", 4, 3, labels=labels, generator=_gen())
    assert torch.equal(cond.labels, labels)
    assert torch.equal(cond.vectors.argmax(1), labels)
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        sample_conditioning("vector", 5, 3, labels=labels)
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        sample_conditioning("vector", 4, 3, labels=torch.tensor([0, 1, 2, 3]))


def test_same_generator_seed_gives_the_same_batch():
    a = sample_conditioning("vector", 16, 10, generator=_gen(5))
    b = sample_conditioning("vector", 16, 10, generator=_gen(5))
    assert torch.equal(a.labels, b.labels) and torch.equal(a.vectors, b.vectors)


def test_unknown_mode_lists_the_valid_ones():
    with pytest.raises(ValueError, match="label, vector, matrix, vector_matrix"):
        sample_conditioning("onehot", 4, 3)


def test_label_matrix_sets_the_label_row_and_column():
    m = label_matrix(torch.tensor([0, 2]), 3, (3, 3))
    assert m.shape == (2, 1, 3, 3)
    assert m[0, 0].tolist() == [[1, 1, 1], [1, 0, 0], [1, 0, 0]]
    assert m[1, 0].tolist() == [[0, 0, 1], [0, 0, 1], [1, 1, 1]]


def test_label_matrix_upsamples_like_nearest():
    m = label_matrix(torch.tensor([1]), 3, (6, 3))  # rows doubled, columns kept
    expected = [[0, 1, 0], [0, 1, 0], [1, 1, 1], [1, 1, 1], [0, 1, 0], [0, 1, 0]]
    assert m[0, 0].tolist() == expected


def test_label_matrix_downsamples_by_area_without_losing_labels():
    # K = 3 onto 2 cells: stripe 0 covers 2/3 of cell 0, stripe 1 a third of each cell.
    m = label_matrix(torch.tensor([0, 1]), 3, (2, 2))
    assert torch.allclose(m[0, 0], torch.tensor([[8 / 9, 2 / 3], [2 / 3, 0.0]]))
    assert torch.allclose(m[1, 0], torch.full((2, 2), 5 / 9))
    # Nearest down-sampling would map labels 3, 6, 9 of K = 10 to the zero map at 7 x 7.
    maps = label_matrix(torch.arange(10), 10, (7, 7))
    assert (maps.flatten(1).amax(dim=1) > 0.5).all()
    assert matrices_are_distinct(10, (7, 7)) and matrices_are_distinct(10, (8, 8))
    assert not matrices_are_distinct(10, (2, 2))


def test_conditioning_moves_as_a_unit():
    cond = sample_conditioning("vector", 4, 3, generator=_gen()).to("cpu")
    assert len(cond) == 4 and cond.vectors.device.type == "cpu"
