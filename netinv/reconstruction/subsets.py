"""Who the target saw, and who it did not: class-balanced training subsets and their controls.

A leakage audit needs two sets of the same size and class balance: the images a target
classifier was trained on, and a held-out control it never saw. The control is drawn
either from the rest of the training split (same distribution, disjoint by construction)
or from another split.
"""

from __future__ import annotations

import numpy as np


def class_counts(size: int, num_classes: int) -> np.ndarray:
    """`size` spread over classes as evenly as possible: (num_classes,) int64 (first classes get the remainder)."""
    if size < num_classes:
        raise ValueError(f"a class-balanced subset of {size} images cannot cover {num_classes} classes; "
                         f"use a size of at least {num_classes}")
    counts = np.full(num_classes, size // num_classes, dtype=np.int64)
    counts[: size % num_classes] += 1
    return counts


def draw_per_class(labels: np.ndarray, counts: np.ndarray, rng: np.random.Generator,
                   exclude: np.ndarray | None = None, split: str = "the split") -> np.ndarray:
    """Sorted indices into `labels`: counts[c] drawn without replacement from class c, never from `exclude`."""
    labels = np.asarray(labels)
    available = np.ones(len(labels), dtype=bool)
    if exclude is not None:
        available[np.asarray(exclude, dtype=np.int64)] = False
    chosen = []
    for c, count in enumerate(counts):
        pool = np.flatnonzero((labels == c) & available)
        if len(pool) < count:
            raise ValueError(f"{split} has {len(pool)} unused images of class {c}, {count} are needed; "
                             "draw a smaller subset, or draw the control from the training split (control_labels=None)")
        chosen.append(rng.choice(pool, size=int(count), replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def subset_and_control(train_labels: np.ndarray, size: int, seed: int, num_classes: int,
                       control_labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, control indices), each `size` images, class-balanced, with equal class counts.

    `control_labels=None`: the control comes from the training images outside the subset
    (indices into the same split). Otherwise it comes from the split those labels describe.
    """
    counts = class_counts(size, num_classes)
    rng = np.random.default_rng(seed)
    subset = draw_per_class(train_labels, counts, rng, split="the training split")
    if control_labels is None:
        control = draw_per_class(train_labels, counts, rng, exclude=subset, split="the training split")
    else:
        control = draw_per_class(control_labels, counts, rng, split="the control split")
    return subset, control
