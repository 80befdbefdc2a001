"""The start of every stage: its command line and params, then the prepared data, the device, the seed.

A stage declares its files as `parser(__doc__, classifier="", data=DATA, ...)` (each a
required `--NAME` path, with its help text), reads them and params.yaml with `parse`, and,
when it works on the prepared data, gets it with the device and the seeded random-number
generators from `prepared_on`. What a stage does next is its own.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch

from netinv.atomic import clean_stale
from netinv.device import resolve_device, seed_everything
from netinv.splits import Prepared, load_prepared
from stages import runner
from stages.config import Params, load_params

DATA = "prepared data directory"


def parser(doc: str | None, **paths: str) -> argparse.ArgumentParser:
    """runner.parser(doc) with a required `--NAME` path for each keyword, its value the help ("" for none)."""
    p = runner.parser(doc)
    for name, text in paths.items():
        p.add_argument(f"--{name}", required=True, type=Path, help=text or None)
    return p


def parse(p: argparse.ArgumentParser, argv: Sequence[str] | None) -> tuple[argparse.Namespace, Params]:
    """The parsed command line and the validated params.yaml it names (`--params`).

    The temporary files of writers killed in an earlier run are removed from the stage's
    directories first: DVC would otherwise record them as part of a directory output."""
    args = p.parse_args(argv)
    params = load_params(args.params)
    for value in vars(args).values():
        if isinstance(value, Path):
            clean_stale(value, recursive=True)
    return args, params


def prepared_on(directory: Path, device: str, seed: int | None) -> tuple[Prepared, torch.device]:
    """The prepared data in `directory` and the resolved `device`; with a `seed`, every random-number
    generator seeded with it too (after the data and device, before anything that draws)."""
    data = load_prepared(directory)
    resolved = resolve_device(device)
    if seed is not None:
        seed_everything(seed)
    return data, resolved
