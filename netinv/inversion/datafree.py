"""What the data-free distillation literature adds to inversion: an adversary, contrast, views.

Three mechanisms, each a loss term with its own weight (0 switches it off and skips its cost):

- **Adversarial exploration** (Fang et al. 2019, "Data-Free Adversarial Distillation", DFAD;
  the "competition" term of Yin et al. 2020, "Dreaming to Distill", NVlabs/DeepInversion):
  a small student is trained, alternately with the generator, to imitate the classifier on
  the generated samples; the generator is rewarded for samples on which the two still
  disagree, so it keeps moving to the parts of the input space the samples so far did not
  teach. Disagreement is DeepInversion's Jensen-Shannon form, which is bounded (DFAD's L1
  on logits is not), so the term cannot swamp the fidelity terms.
- **Contrastive instance discrimination** (Fang et al. 2021, "Contrastive Model Inversion",
  zju-vipa/CMI): a sample's features under two random views must be closer to each other
  than to the features of earlier samples kept in a memory bank. A generator that repeats
  itself pays, because its new samples resemble the bank.
- **Augmentation-robust views** (DeepInversion's jitter and flips; CMI's and
  Fast-Datafree's (zju-vipa/Fast-Datafree) random resized crops): per-sample random crops
  and shifts before the classifier sees a sample, so what is learned is a class's shape at
  several scales and places, not one pixel pattern that only this network reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from netinv.training import descend, kd_loss


def js_divergence(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """Mean Jensen-Shannon divergence between the softmax distributions of two (N, K) logits, in [0, log 2]."""
    p, q = F.softmax(logits_p, dim=1), F.softmax(logits_q, dim=1)
    m = (0.5 * (p + q)).clamp_min(1e-12)
    kl_pm = (torch.xlogy(p, p) - p * m.log()).sum(dim=1)
    kl_qm = (torch.xlogy(q, q) - q * m.log()).sum(dim=1)
    return (0.5 * (kl_pm + kl_qm)).mean()


def adversarial_loss(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
    """``log 2 - JS(teacher, student)``: minimised by the generator, it seeks disagreement.

    Shifted by log 2 so that the term is non-negative: log 2 when teacher and student agree
    (nothing left to teach on this batch), 0 when their answers share no mass.
    """
    return math.log(2.0) - js_divergence(teacher_logits, student_logits)


def contrastive_loss(anchor: torch.Tensor, positive: torch.Tensor, bank: torch.Tensor | None,
                     temperature: float) -> torch.Tensor:
    """InfoNCE of CMI: each anchor's positive is its other view; negatives are the other samples of
    the batch (their second views) and the memory bank's rows.

    ``anchor``, ``positive``: (N, D) features of two views of the same N samples; ``bank``:
    (M, D) features of earlier samples (no gradient) or None. Returns the mean cross-entropy of
    picking the right positive among N + M candidates. Duplicated samples make negatives as
    close as positives, so the loss is high for a batch of copies and low for distinct samples.
    """
    a = F.normalize(anchor.flatten(1), dim=1)
    p = F.normalize(positive.flatten(1), dim=1)
    candidates = p if bank is None or len(bank) == 0 else torch.cat([p, F.normalize(bank, dim=1)])
    logits = a @ candidates.T / temperature  # (N, N + M): the diagonal holds the positives
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))


class MemoryBank:
    """A first-in-first-out store of the last `size` feature rows (no gradient): CMI's negatives."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: torch.Tensor | None = None

    def push(self, features: torch.Tensor) -> None:
        new = features.detach().flatten(1)
        self.rows = new if self.rows is None else torch.cat([new, self.rows])
        self.rows = self.rows[: self.size]

    def state_dict(self) -> dict[str, torch.Tensor | None]:
        return {"rows": None if self.rows is None else self.rows.cpu()}

    def load_state_dict(self, state: dict[str, torch.Tensor | None], device: torch.device) -> None:
        rows = state.get("rows")
        self.rows = None if rows is None else rows.to(device)


def random_views(images: torch.Tensor, crop: float, shift: int, rng: torch.Generator) -> torch.Tensor:
    """Per-sample random resized crop (zoom by 1 / s, s uniform in [1 - crop, 1]) and shift (pixels).

    One affine warp per sample, bilinear, zero padding: cheap on 28x28 and differentiable, so
    the generator learns through it. ``crop=0`` and ``shift=0`` return the batch unchanged.
    """
    if crop <= 0 and shift <= 0:
        return images
    b, _, h, w = images.shape
    scale = 1.0 - crop * torch.rand(b, generator=rng)  # (B,): the fraction of the image kept
    offset = (torch.rand(b, 2, generator=rng) * 2 - 1) * (1 - scale)[:, None]  # stays inside the image
    if shift > 0:
        pixels = torch.randint(-shift, shift + 1, (b, 2), generator=rng).float()
        offset = offset + pixels * 2 / torch.tensor([w, h], dtype=torch.float32)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = scale
    theta[:, :, 2] = offset
    grid = F.affine_grid(theta.to(images.device, images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class Adversary:
    """The student of the adversarial term and its optimiser, trained one step per generator step."""

    def __init__(self, student: nn.Module, lr: float, temperature: float) -> None:
        self.student = student
        self.temperature = temperature
        self.optimizer = torch.optim.Adam(student.parameters(), lr=lr)

    def learn(self, images: torch.Tensor, teacher_logits: torch.Tensor) -> float:
        """One imitation step on a generated batch (detached from the generator); returns its loss."""
        self.student.train()
        loss = kd_loss(self.student(images.detach()), teacher_logits.detach(), self.temperature)
        descend(loss, self.optimizer, config="InversionConfig", field="student_lr",
                diverged="the adversary student's imitation loss became {loss} on a generated batch")
        return loss.item()

    def state_dict(self) -> dict[str, object]:
        return {"student": self.student.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.student.load_state_dict(state["student"])
        self.optimizer.load_state_dict(state["optimizer"])


class DataFreeTerms:
    """The adversarial and contrastive terms' state across steps, and the terms themselves.

    Built only for the terms whose weight is non-zero: with both at 0 it adds no cost and
    draws no random numbers, so runs without them are unchanged.
    """

    def __init__(self, adversary: Adversary | None, bank: MemoryBank | None) -> None:
        self.adversary = adversary
        self.bank = bank

    def terms(self, viewed: torch.Tensor, images: torch.Tensor, logits: torch.Tensor, features: torch.Tensor,
              second_view: Callable[[torch.Tensor], torch.Tensor], contrast_temperature: float) -> dict[str, torch.Tensor]:
        """`viewed`: the batch as the classifier saw it (with its `logits` and tapped `features`);
        `second_view(images)`: the classifier's features of another random view of `images`."""
        out: dict[str, torch.Tensor] = {}
        if self.adversary is not None:
            self.adversary.student.eval()
            out["adv"] = adversarial_loss(logits, self.adversary.student(viewed).float())
        if self.bank is not None:
            out["contrast"] = contrastive_loss(features, second_view(images), self.bank.rows, contrast_temperature)
        return out

    def after_step(self, viewed: torch.Tensor, logits: torch.Tensor, features: torch.Tensor) -> None:
        """The student's imitation step on this batch; this batch's features join the bank."""
        if self.adversary is not None:
            self.adversary.learn(viewed.float(), logits)
        if self.bank is not None:
            self.bank.push(features)

    def state_dict(self) -> dict[str, object]:
        return {"adversary": None if self.adversary is None else self.adversary.state_dict(),
                "bank": None if self.bank is None else self.bank.state_dict()}

    def load_state_dict(self, state: dict[str, object], device: torch.device) -> None:
        if self.adversary is not None and state.get("adversary") is not None:
            self.adversary.load_state_dict(state["adversary"])
        if self.bank is not None and state.get("bank") is not None:
            self.bank.load_state_dict(state["bank"], device)
