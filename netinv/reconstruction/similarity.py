"""Similarity of every pair of images: SSIM and PSNR, all pairs at once.

SSIM is torchmetrics' ``structural_similarity_index_measure`` (Gaussian window sigma 1.5,
11 taps, reflection padding, K1 = 0.01, K2 = 0.03, data range 1), evaluated for all pairs
at once: the per-image local means and variances are computed once, and each pair costs
one product image and a separable filter. torchmetrics itself costs about 1 ms per pair
on one CPU core (minutes for the 400,000 pairs of a 10,000-image subset); the unit tests
hold this implementation to torchmetrics' own numbers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SIGMA = 1.5
K1, K2 = 0.01, 0.03
PAIR_BUDGET = 4_000_000  # padded pixels of one block of pair products: bounds memory (16 MB in float32)


def _as_float(images: np.ndarray | torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1]; float input is taken as already in [0, 1]."""
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if x.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(x.shape)}")
    return x.to(dtype) / 255.0 if x.dtype == torch.uint8 else x.to(dtype)


def _gaussian_1d(dtype: torch.dtype) -> torch.Tensor:
    """torchmetrics' Gaussian taps: k = 2 * int(3.5 sigma + 0.5) + 1 = 11, summing to 1."""
    size = int(3.5 * SIGMA + 0.5) * 2 + 1
    dist = torch.arange((1 - size) / 2, (1 + size) / 2, 1.0, dtype=torch.float64)
    g = torch.exp(-((dist / SIGMA) ** 2) / 2)
    return (g / g.sum()).to(dtype)


def _pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    n, c, h, w = x.shape
    if min(h, w) <= pad:
        raise ValueError(f"images of {h}x{w} are too small for SSIM's {2 * pad + 1}-tap window "
                         f"(need more than {pad} pixels a side)")
    return F.pad(x.reshape(n * c, 1, h, w), (pad, pad, pad, pad), mode="reflect")  # (N*C, 1, H+2p, W+2p)


def _band(g: torch.Tensor, size: int) -> torch.Tensor:
    """(size + k - 1, size): column j holds the taps at rows j..j+k-1, so v @ band filters v (valid)."""
    k = len(g)
    band = torch.zeros(size + k - 1, size, dtype=g.dtype)
    for j in range(size):
        band[j : j + k, j] = g
    return band


def _blur(padded: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter, valid region: (M, 1, H+2p, W+2p) -> (M, H*W).

    Two GEMMs with banded matrices: on a CPU several times faster than a depthwise conv2d.
    """
    m, _, hp, wp = padded.shape
    k = len(g)
    h, w = hp - k + 1, wp - k + 1
    cols = padded.view(m, hp, wp).transpose(1, 2).reshape(m * wp, hp) @ _band(g, h)  # (M*Wp, H)
    rows = cols.view(m, wp, h).transpose(1, 2).reshape(m * h, wp) @ _band(g, w)  # (M*H, W)
    return rows.view(m, h * w)


def pairwise_ssim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor,
                  dtype: torch.dtype = torch.float32) -> np.ndarray:
    """SSIM of every pair (a_i, b_j): (len(a), len(b)) float64, torchmetrics' definition.

    Per-image local means and variances are filtered once; each pair costs one product image
    and one separable filter (reflection padding commutes with the product). For colour
    images the map is averaged over channels and pixels, as torchmetrics does.
    """
    x, y = _as_float(a, dtype), _as_float(b, dtype)
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"image shapes differ: {tuple(x.shape[1:])} vs {tuple(y.shape[1:])}")
    out = np.empty((len(x), len(y)))
    if len(x) == 0 or len(y) == 0:
        return out
    g = _gaussian_1d(dtype)
    pad = (len(g) - 1) // 2
    channels, height, width = x.shape[1:]
    xp, yp = _pad(x, pad), _pad(y, pad)  # (Na*C, 1, Hp, Wp), (Nb*C, 1, Hp, Wp)
    mu_x, mu_y = _blur(xp, g).reshape(len(x), -1), _blur(yp, g).reshape(len(y), -1)  # (Na, CHW), (Nb, CHW)
    var_x = (_blur(xp * xp, g).reshape(len(x), -1) - mu_x**2).clamp_min(0.0)
    var_y = (_blur(yp * yp, g).reshape(len(y), -1) - mu_y**2).clamp_min(0.0)
    xp = xp.view(len(x), channels, *xp.shape[2:])  # (Na, C, Hp, Wp)
    yp = yp.view(len(y), channels, *yp.shape[2:])
    c1, c2 = K1**2, K2**2
    block = max(1, PAIR_BUDGET // (len(x) * xp[0].numel()))
    for start in range(0, len(y), block):
        sl = slice(start, start + block)
        nb = len(yp[sl])
        product = (xp[:, None] * yp[None, sl]).reshape(-1, 1, *xp.shape[2:])  # (Na*nb*C, 1, Hp, Wp)
        e_xy = _blur(product, g).reshape(len(x), nb, channels * height * width)  # (Na, nb, CHW)
        mxy = mu_x[:, None] * mu_y[None, sl]  # (Na, nb, CHW)
        num = (2 * mxy + c1) * (2 * (e_xy - mxy) + c2)
        den = (mu_x[:, None] ** 2 + mu_y[None, sl] ** 2 + c1) * (var_x[:, None] + var_y[None, sl] + c2)
        out[:, sl] = (num / den).mean(dim=2).double().numpy()
    return out


PSNR_CAP_DB = 100.0  # identical images: a finite ceiling keeps means and JSON finite


def pairwise_psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """PSNR (dB, data range 1) of every pair: (len(a), len(b)), capped at PSNR_CAP_DB for identical images."""
    x, y = _as_float(a).flatten(1), _as_float(b).flatten(1)  # (Na, D), (Nb, D)
    mse = ((x**2).sum(1)[:, None] + (y**2).sum(1)[None, :] - 2 * x @ y.T).clamp_min(0.0) / x.shape[1]
    return (10 * torch.log10(1.0 / mse.clamp_min(10 ** (-PSNR_CAP_DB / 10)))).numpy().astype(np.float64)
