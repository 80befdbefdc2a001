"""How the generator is told which class to produce: the four conditioning modes.

Suhail, Tang, Sethi (2024), "Network Inversion and Its Applications" and "Network
Inversion of Convolutional Neural Nets", condition one generator on the class in four ways:

- ``label``: a plain label code (an embedding of the integer label): the baseline.
- ``vector`` ("hidden" conditioning): a random soft vector ``p = softmax(r / T)`` whose
  argmax is the intended label. The generator sees ``p``, never the integer label, so it
  must learn a continuum of conditionings; the papers credit this with spreading samples.
- ``matrix``: a "hot conditioning matrix" (the label's row and column set to 1) joins an
  intermediate feature map of the generator as an extra channel.
- ``vector_matrix``: both, the papers' strongest setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from netinv.config.inversion import MODES

VECTOR_MODES = ("vector", "vector_matrix")
MATRIX_MODES = ("matrix", "vector_matrix")


@dataclass(frozen=True, eq=False)  # eq on tensors would be ambiguous
class Conditioning:
    """One batch of conditioning.

    labels:  (B,) int64, the intended labels (what the classifier should answer).
    vectors: (B, K) float; the soft vector ``p`` in vector modes (argmax p == label),
             the one-hot of the label in label / matrix modes. It doubles as the KL target.
    """

    labels: torch.Tensor
    vectors: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> Conditioning:
        return Conditioning(labels=self.labels.to(device), vectors=self.vectors.to(device))

    def repeated(self) -> Conditioning:
        """The batch twice over: row i and row i + B share their conditioning (mode seeking
        compares two latents under one condition)."""
        return Conditioning(labels=self.labels.repeat(2), vectors=self.vectors.repeat(2, 1))

    def select(self, index: slice | torch.Tensor) -> Conditioning:
        """A sub-batch, e.g. one data-parallel rank's share."""
        return Conditioning(labels=self.labels[index], vectors=self.vectors[index])


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown conditioning mode {mode!r}; valid: {', '.join(MODES)}")
    return mode


def balanced_labels(
    batch_size: int, num_classes: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``arange(B) % K``, shuffled: every batch covers all classes as evenly as B allows.

    Balanced rather than i.i.d. labels keep the per-class losses (same-class cosine pairs in
    particular) populated in every batch, even a small one.
    """
    device = generator.device if generator is not None else torch.device("cpu")
    order = torch.randperm(batch_size, generator=generator, device=device)
    return torch.arange(batch_size, device=device)[order] % num_classes


def soft_vectors(
    labels: torch.Tensor,
    num_classes: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``p = softmax(r / T)`` with ``r ~ N(0, I_K)`` rearranged so that argmax p == label.

    The papers draw ``r`` and read the label off its argmax; here the label comes first
    (so batches stay class-balanced) and ``r[label]`` is swapped with ``max(r)``, which
    leaves the distribution of the sorted vector unchanged. Lower T -> sharper vectors.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    device = generator.device if generator is not None else labels.device
    r = torch.randn(len(labels), num_classes, generator=generator, device=device)
    r = r.to(labels.device)
    index = labels.view(-1, 1)  # (B, 1)
    top_value, top_index = r.max(dim=1, keepdim=True)  # (B, 1) each
    label_value = r.gather(1, index)  # (B, 1)
    r = r.scatter(1, top_index, label_value).scatter(1, index, top_value)
    return torch.softmax(r / temperature, dim=1)


def sample_conditioning(
    mode: str,
    batch_size: int,
    num_classes: int,
    *,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    labels: torch.Tensor | None = None,
    device: torch.device | str = "cpu",
) -> Conditioning:
    """A batch of conditioning for ``mode``: class-balanced labels unless ``labels`` is given.

    Random numbers come from ``generator`` (on its own device) and are moved to ``device``,
    so a CPU generator gives the same batch whatever the device.
    """
    check_mode(mode)
    if num_classes < 2:
        raise ValueError(f"num_classes must be >= 2, got {num_classes}")
    if labels is None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        labels = balanced_labels(batch_size, num_classes, generator)
    else:
        if labels.ndim != 1 or labels.shape[0] != batch_size:
            raise ValueError(
                f"labels must have shape ({batch_size},) to match batch_size, got {tuple(labels.shape)}"
            )
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(f"labels must be integers, got {labels.dtype}")
        if batch_size and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.tolist()}")
        labels = labels.to(torch.int64)
    labels = labels.to(device)
    if mode in VECTOR_MODES:
        vectors = soft_vectors(labels, num_classes, temperature, generator)
    else:
        vectors = F.one_hot(labels, num_classes).float()
    return Conditioning(labels=labels, vectors=vectors)


def _overlap_weights(num_classes: int, length: int) -> torch.Tensor:
    """(length, K): the fraction of output cell i covered by class k's stripe.

    The K stripes of a K-wide axis, stretched onto ``length`` cells, are the intervals
    [k L / K, (k+1) L / K); weight = |stripe k ∩ [i, i+1)|. This is exact area resampling.
    """
    cells = torch.arange(length, dtype=torch.float64).view(-1, 1)  # (L, 1)
    k = torch.arange(num_classes, dtype=torch.float64).view(1, -1)  # (1, K)
    start, end = k * length / num_classes, (k + 1) * length / num_classes
    overlap = torch.minimum(cells + 1, end) - torch.maximum(cells, start)  # (L, K)
    return overlap.clamp_min(0.0)


def label_matrix(labels: torch.Tensor, num_classes: int, size: tuple[int, int]) -> torch.Tensor:
    """The "hot conditioning matrix" (Suhail et al. 2024), resized to ``size``: (B, 1, h, w).

    Why: a K x K map with the label's row and column set to 1 carries the class as a
    spatial pattern, so the generator can be told the class in the middle of the network,
    at every location, rather than only through its input vector.

    Resizing is area resampling (each output cell holds the covered fraction of the K x K
    map), which equals nearest-neighbour resizing when ``size`` is a multiple of K. Plain
    nearest *down*-sampling would drop whole rows: at K = 10 on the 7 x 7 map of a 28 x 28
    generator, labels 3, 6 and 9 would all become the zero map. Area resampling keeps the
    maps of different labels distinct whenever each side exceeds K / 2; see
    ``matrices_are_distinct``. Values lie in [0, 1]: ``1 - (1 - r_i)(1 - c_j)`` with r, c
    the row / column stripe weights.
    """
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D (B,), got shape {tuple(labels.shape)}")
    height, width = size
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size}")
    rows = _overlap_weights(num_classes, height).to(labels.device)  # (h, K)
    cols = _overlap_weights(num_classes, width).to(labels.device)  # (w, K)
    r = rows[:, labels].T  # (B, h): weight of the label's row in each output row
    c = cols[:, labels].T  # (B, w)
    matrix = 1.0 - (1.0 - r)[:, :, None] * (1.0 - c)[:, None, :]  # (B, h, w)
    return matrix.unsqueeze(1).float()  # (B, 1, h, w)


def matrices_are_distinct(num_classes: int, size: tuple[int, int]) -> bool:
    """Whether ``label_matrix`` gives K pairwise different maps at ``size``."""
    maps = label_matrix(torch.arange(num_classes), num_classes, size).flatten(1)  # (K, h*w)
    distance = torch.cdist(maps.double(), maps.double())  # (K, K)
    off_diagonal = ~torch.eye(num_classes, dtype=torch.bool)
    return bool((distance[off_diagonal] > 1e-6).all())
