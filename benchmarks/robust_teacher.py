"""Does the inverter or the classifier limit coverage? Invert an adversarially trained twin.

    python benchmarks/robust_teacher.py NAME [EPS [EPOCHS]]      (e.g. robust_teacher.py l2eps1 1.0 3)

Trains the classifier's architecture (params.yaml's `classifier` section) with L2 PGD
adversarial training (Madry et al. 2018: each batch replaced by its worst case within an L2
ball of radius EPS, found by 5 projected steps), then trains the default `invert` generator
against it and draws the default release. Robust classifiers have perceptually aligned
gradients (Santurkar et al. 2019, "Image synthesis with a single robust classifier"): if
their inversions reach the real images' neighbourhoods where the standard classifier's do
not, what keeps the default samples off the data is the audited model's gradients, not the
generator.

Printed, as by benchmarks/invert_sweep.py: the robust twin's validation accuracy, fidelity
(against the twin), the sweep judge's agreement, coverage and pixel spread against the
validation split, and a student distilled from the samples (teacher: the pipeline's
classifier, so the samples are read as transfer data for the audited model). Never the
held-out judge or the test split. One JSON line per run in
benchmarks/results/robust_teacher.jsonl, the samples' per-class grid beside it as
robust_teacher_NAME.png. Needs `dvc repro invert`.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from netinv.config.inversion import InversionConfig, SamplingConfig
from netinv.config.models import CNNConfig
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.sampling import sample_balanced
from netinv.inversion.trainer import train_generator
from netinv.metrics.quality import embed_and_predict, label_agreement
from netinv.models import CNNClassifier
from netinv.training import descend, predict_logits, random_translate, to_float
from netinv.visual import class_overview
from stages.config import generator_config

sys.path.insert(0, str(Path(__file__).parent))
from invert_sweep import distill_val, judged, setup

OUT = Path("benchmarks/results/robust_teacher.jsonl")
PGD_STEPS = 5


def l2_pgd(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """The worst case of `x` for `model` within an L2 ball of radius `eps`, inside [0, 1]."""
    step = 2.5 * eps / PGD_STEPS
    delta = torch.zeros_like(x, requires_grad=True)
    for _ in range(PGD_STEPS):
        loss = F.cross_entropy(model(x + delta), y)
        (grad,) = torch.autograd.grad(loss, delta)
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        delta = delta.detach() + step * grad / norm
        scale = (eps / delta.flatten(1).norm(dim=1).clamp_min(1e-12)).clamp(max=1.0).view(-1, 1, 1, 1)
        delta = ((x + delta * scale).clamp(0, 1) - x).requires_grad_(True)
    return (x + delta).detach()


def train_robust(run, eps: float, epochs: int) -> tuple[CNNClassifier, float]:
    """The classifier's architecture and optimiser (AdamW, one cycle), each batch attacked first;
    the trained twin and its validation accuracy after the last epoch."""
    section = run.params.classifier
    model = CNNClassifier(section.build(CNNConfig, **run.data.model_shape())).to(run.device)
    x_all, y_all = torch.from_numpy(run.data.train.images), torch.from_numpy(run.data.train.labels).long()
    steps = math.ceil(len(x_all) / section.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=section.lr, weight_decay=section.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=section.lr, total_steps=epochs * steps)
    order_rng, shift_rng = torch.Generator().manual_seed(run.params.seed), torch.Generator().manual_seed(1)
    for epoch in range(epochs):
        order = torch.randperm(len(x_all), generator=order_rng)
        for i in range(steps):
            idx = order[i * section.batch_size : (i + 1) * section.batch_size]
            x, y = random_translate(to_float(x_all[idx]), 1, shift_rng).to(run.device), y_all[idx].to(run.device)
            model.eval()  # the attack sees fixed batch-norm statistics and no dropout
            x = l2_pgd(model, x, y, eps)
            model.train()
            descend(F.cross_entropy(model(x), y), optimizer, schedule, config="robust twin",
                    diverged="adversarial training loss became {loss}")
        accuracy = label_agreement(predict_logits(model, run.data.val.images, run.device), run.data.val.labels)
        print(f"epoch {epoch + 1}/{epochs}: val accuracy {accuracy:.4f}", flush=True)
    return model.eval(), accuracy


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    eps = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    sys.argv = sys.argv[:2]  # setup reads overrides from the rest: there are none
    run = setup("invert", "the robust twin")
    started = time.perf_counter()
    robust, val_accuracy = train_robust(run, eps, epochs)
    robust.requires_grad_(False)
    robust_seconds = time.perf_counter() - started
    generator = ConditionedGenerator(generator_config(run.cfg, len(run.data.class_names), run.data.image_shape))
    started = time.perf_counter()
    train_generator(generator, robust, run.cfg.build(InversionConfig, seed=run.params.seed), run.device,
                    progress=False)
    invert_seconds = time.perf_counter() - started
    images, labels = sample_balanced(generator, run.cfg.build(SamplingConfig), run.params.seed + 1, run.device)
    _, logits = embed_and_predict(robust, images, device=run.device)
    row = {"name": run.name, "eps": eps, "epochs": epochs, "robust_val_accuracy": val_accuracy,
           "fidelity": label_agreement(logits, labels), "distill_val": distill_val(images, run),
           "robust_seconds": robust_seconds, "invert_seconds": invert_seconds,
           **judged(images, labels, run.data, run.device)}
    with OUT.open("a") as f:
        f.write(json.dumps(row) + "\n")
    figure = class_overview(images, labels, run.data.class_names, title=f"inverted from the L2-robust twin (eps {eps})",
                            real_images=run.data.val.images, real_labels=run.data.val.labels)
    figure.savefig(OUT.with_name(f"robust_teacher_{run.name}.png"), dpi=80)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))


if __name__ == "__main__":
    main()
