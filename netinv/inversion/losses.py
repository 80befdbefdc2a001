"""The inversion losses: pure functions of a generated batch and the classifier's outputs.

Suhail, Tang, Sethi (2024), "Network Inversion and Its Applications", train the
generator with ``alpha L_KL + beta L_CE + gamma L_cos + delta L_orth``: CE and KL make the
classifier assign the intended class (fidelity); the cosine and orthogonality terms push
the batch's features apart (diversity). Total variation, the batch-norm statistics prior
(``features.BatchNormStatsPrior``) and the mode-seeking term (Mao et al. 2019) are optional
extras measured in the ablation. Every function returns a scalar tensor.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``L_CE = -1/N sum_i log softmax(C(x_i))[y_i]``: the classifier must answer the intended label."""
    return F.cross_entropy(logits, labels)


def kl_loss(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """``L_KL = 1/N sum_i KL(p_i || Q_i) = 1/N sum_i sum_k p_ik log(p_ik / Q_ik)``, Q = softmax(logits).

    The papers match the classifier's whole output distribution to the conditioning vector
    p (soft in vector modes, one-hot in label modes), not just its argmax. Computed as
    ``xlogy(p, p) - p * log_softmax(logits)`` so that p_k = 0 terms are exactly 0 and large
    logits do not overflow.
    """
    if logits.shape != target_probs.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and target_probs {tuple(target_probs.shape)} differ")
    log_q = F.log_softmax(logits, dim=1)  # (N, K)
    per_sample = (torch.xlogy(target_probs, target_probs) - target_probs * log_q).sum(dim=1)  # (N,)
    return per_sample.mean()


def _cosine_matrix(features: torch.Tensor) -> torch.Tensor:
    unit = F.normalize(features.flatten(1), dim=1, eps=1e-8)  # (N, D), rows of norm 1
    return unit @ unit.T  # (N, N)


def cosine_similarity_loss(features: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """``L_cos = 1/(N(N-1)) sum_{i != j} cos(f_i, f_j)``: minimised, it spreads the batch's features.

    Without ``labels`` all ordered pairs count (the papers' form). With ``labels`` only
    same-class pairs count: the mean over each class with >= 2 members, then the mean over
    those classes. Across-class pairs are already pushed apart by CE, so same-class pairs
    are where diversity is at stake. 0 when there is no pair.
    """
    n = features.shape[0]
    zero = features.sum() * 0.0  # keeps the result on the graph even when there is no pair
    if n < 2:
        return zero
    similarity = _cosine_matrix(features)  # (N, N)
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=features.device)
    if labels is None:
        return similarity[off_diagonal].mean()
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
    same = (labels[:, None] == labels[None, :]) & off_diagonal  # (N, N)
    classes, index, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    row_sums = (similarity * same).sum(dim=1)  # (N,): sum over i's same-class partners
    class_sums = torch.zeros(len(classes), dtype=similarity.dtype, device=features.device)
    class_sums = class_sums.index_add(0, index, row_sums)  # (classes,): sum over ordered pairs
    pairs = counts * (counts - 1)  # ordered pairs per class
    has_pairs = pairs > 0
    if not has_pairs.any():
        return zero
    return (class_sums[has_pairs] / pairs[has_pairs]).mean()


def orthogonality_loss(features: torch.Tensor) -> torch.Tensor:
    """``L_orth = ||F_hat F_hat^T - I||_F^2 / N^2``, F_hat the row-normalised (N, D) features.

    The Gram matrix of unit rows is the cosine matrix; its distance from the identity is
    small when the batch's features are mutually orthogonal (Suhail et al. 2024). Unlike
    ``cosine_similarity_loss`` it penalises negative correlations too.
    """
    n = features.shape[0]
    gram = _cosine_matrix(features)  # (N, N)
    identity = torch.eye(n, dtype=gram.dtype, device=gram.device)
    return ((gram - identity) ** 2).sum() / n**2


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Anisotropic TV: mean |vertical neighbour difference| + mean |horizontal neighbour difference|.

    An image prior (as in DeepInversion): it discourages the high-frequency patterns that
    fool a classifier without looking like anything. Each mean is over all neighbour pairs
    of the batch, so the value does not grow with image size: 0 for a constant image, 2 for
    a 0/1 checkerboard.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (B, C, H, W), got shape {tuple(images.shape)}")
    vertical = (images[:, :, 1:, :] - images[:, :, :-1, :]).abs().mean()
    horizontal = (images[:, :, :, 1:] - images[:, :, :, :-1]).abs().mean()
    return vertical + horizontal


def mode_seeking_loss(images: torch.Tensor, latents: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Mao et al. (2019), "Mode Seeking GANs": ``1 / (mean_i d(x_i, x_j) / d(z_i, z_j) + eps)``.

    Pairs are (i, i + B/2): the first half of the batch against the second. Mao et al.
    compare two latents under the *same* condition, so a trainer that wants their exact
    form builds the batch as two halves with identical conditioning; with independent
    halves the term still rewards images that move when z moves. d is the mean absolute
    difference (over pixels for x, over latent dimensions for z). Minimising the loss
    maximises how far images move per unit of latent change, against mode collapse. Large
    (1 / eps) when the images of a pair are identical.
    """
    batch = images.shape[0]
    if batch < 2 or batch % 2:
        raise ValueError(f"mode_seeking_loss pairs the two halves of the batch: needs an even B >= 2, got {batch}")
    if latents.shape[0] != batch:
        raise ValueError(f"images ({batch}) and latents ({latents.shape[0]}) differ in batch size")
    half = batch // 2
    image_distance = (images[:half] - images[half:]).abs().flatten(1).mean(dim=1)  # (B/2,)
    latent_distance = (latents[:half] - latents[half:]).abs().flatten(1).mean(dim=1)  # (B/2,)
    ratio = image_distance / (latent_distance + eps)  # (B/2,)
    return 1.0 / (ratio.mean() + eps)
