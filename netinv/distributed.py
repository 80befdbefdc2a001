"""Data-parallel training with PyTorch DDP, launched by `torchrun`; a no-op in one process.

The training loops stay plain: they ask `world()` for their rank and split each global
batch between ranks (`shard`), so a run on N processes sees the same global batches, in
the same order, as a run on one. DDP averages the gradients, which for equal shards is
the full-batch gradient; what differs is dropout noise and float summation order.
Backend: gloo on CPU (tests, 2-core machines), nccl on CUDA.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn


def world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main() -> bool:
    """Only the main process writes files and logs to MLflow."""
    return world()[0] == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[torch.device]:
    """Join the process group torchrun set up (env://) and yield this rank's device.

    Outside torchrun it yields `device` unchanged, so stages call it unconditionally.
    """
    if not launched_by_torchrun() or dist.is_initialized():
        yield device
        return
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        yield device
    finally:
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """DDP around `model` when in a process group; the model itself otherwise."""
    if world()[1] == 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This rank's strided share of a global batch (indices, or samples)."""
    rank, size = world()
    return batch[rank::size] if size > 1 else batch


def all_sum(*values: float) -> list[float]:
    """Sum plain numbers over ranks (loss sums, counts); identity in one process."""
    if world()[1] == 1:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.tolist()


def all_finite(value: torch.Tensor) -> bool:
    """Whether `value` is finite on every rank: all ranks stop together on a NaN, none hangs."""
    finite = bool(torch.isfinite(value).all())
    if world()[1] == 1:
        return finite
    return all_sum(float(finite))[0] == world()[1]
