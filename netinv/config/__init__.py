"""The one definition of every tunable setting: frozen, validated config dataclasses.

Each core config (`InversionConfig`, `GarbageConfig`, `TrainConfig`, ...) is declared once,
in this package, one module per area (`data`, `models`, `inversion`, `ood`,
`reconstruction`, `validation`), with its type, its range and its default: the value
measured best on the default run (docs/results.md), or no default where no single value
fits every use. The modules that use a config import it from here; they hold the code, this
package the settings, so that a change to the code does not look like a change of settings
(for DVC, each stage depends on these small modules, not on all of the core).
They are pydantic dataclasses, so a config built in Python is checked exactly as one read
from a file: an out-of-range value or an unknown field raises
`pydantic.ValidationError` naming the field. The stage layer builds its params sections
from these same types (stages/config.py), so a default cannot drift between the two.
Pydantic is a validation library, not pipeline I/O: the core still reads no files here.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import AfterValidator, ConfigDict
from pydantic.dataclasses import dataclass

__all__ = ["Device", "Fraction", "NonNegative", "PositiveInt", "Probability", "Severity", "config_dataclass"]

PositiveInt = Annotated[int, Gt(0)]
NonNegative = Annotated[float, Ge(0)]
Fraction = Annotated[float, Gt(0), Lt(1)]  # strictly between 0 and 1
Probability = Annotated[float, Ge(0), Le(1)]
Severity = Literal["critical", "warning"]
DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _device(value: str) -> str:
    if not DEVICE_PATTERN.fullmatch(value):
        raise ValueError(f"unknown device {value!r}: use auto (CUDA when present, else CPU), cpu, cuda or cuda:N")
    return value


# Where a computation runs: `auto` takes CUDA when present; anything else is a torch device string.
Device = Annotated[str, AfterValidator(_device)]

_STRICT = ConfigDict(extra="forbid")


def config_dataclass(cls: type) -> type:
    """A frozen dataclass whose fields are validated on construction; unknown fields are refused."""
    return dataclass(frozen=True, config=_STRICT)(cls)
