"""The start of every stage: its command line and params, then the prepared data, the device, the seed.

A stage declares its files as `parser(__doc__, classifier="", data=DATA, ...)` (each a
required `--NAME` path, with its help text), reads them and params.yaml with `parse`, and,
when it works on the prepared data, gets it with the device and the seeded random-number
generators from `prepared_on`. What a stage does next is its own.

Besides its full metrics file, a stage writes its headline numbers with `write_summary` to the
`--summary` file dvc.yaml names (metrics/summary/NAME.json): the file `dvc metrics show` and
`dvc exp show` read, a few numbers wide, where the full file holds everything.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from netinv.atomic import clean_stale, write_json
from netinv.device import resolve_device, seed_everything
from netinv.splits import Prepared, load_prepared
from stages import runner
from stages.config import Params, load_params

DATA = "prepared data directory"
SUMMARY = "headline numbers for `dvc metrics show` (metrics/summary/NAME.json)"
# Words that mark a number as a cost, not a result: kept out of the summaries (they change every run).
NOT_HEADLINES = ("seconds", "latency", "memory", "per_second", "device", "threads", "processes")


def parser(doc: str | None, **paths: str) -> argparse.ArgumentParser:
    """runner.parser(doc) with a required `--NAME` path for each keyword, its value the help ("" for none);
    `summary=SUMMARY` is the one optional path (`--summary`, dvc.yaml passes it; without it, none is written)."""
    p = runner.parser(doc)
    for name, text in paths.items():
        p.add_argument(f"--{name}", required=name != "summary", type=Path, help=text or None)
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


def summary_of(metrics: Mapping[str, Any], keys: Iterable[str] | Mapping[str, str]) -> dict[str, Any]:
    """The headline numbers of `metrics`, nested as their dotted names say.

    `keys`: dotted paths into `metrics` ("positive_control.recovered_gap"), each kept under its own
    name, or {name in the summary: dotted path}. Each value must be a finite number (a count or a
    rate: no text, no bool, no timing), so that the summary stays a few columns of numbers."""
    names = dict(keys) if isinstance(keys, Mapping) else {key: key for key in keys}
    out: dict[str, Any] = {}
    for name, source in names.items():
        if any(word in name for word in NOT_HEADLINES):
            raise ValueError(f"summary key {name!r} is a cost (timing, device, ...), not a headline number")
        value: Any = metrics
        for part in source.split("."):
            if not isinstance(value, Mapping) or part not in value:
                raise KeyError(f"summary key {name!r}: the metrics have no {source!r}")
            value = value[part]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise TypeError(f"summary key {name!r}: {source!r} is {value!r}, not a finite number")
        *parents, leaf = name.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def write_summary(path: Path | None, metrics: Mapping[str, Any],
                  keys: Iterable[str] | Mapping[str, str]) -> dict[str, Any]:
    """Write `summary_of(metrics, keys)` to `path` (JSON, atomically; no path: nothing written) and return it."""
    summary = summary_of(metrics, keys)
    if path is not None:
        write_json(path, summary)
    return summary
