"""Progress of a long loop: a tqdm bar on a terminal, a few log lines anywhere else.

tqdm redraws its bar with carriage returns several times a second. On a terminal that is one
line that moves; in a file (a `dvc repro` log, a container's captured stderr, CI output) every
redraw is kept, and a run's log grows to hundreds of kilobytes of bars. So `progress` shows
the bar only when its stream is a terminal; otherwise tqdm is off and the loop writes at most
`lines` log lines (at each `1/lines` of the total, with the last postfix and the elapsed time)
through the `netinv.progress` logger.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any, Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger("netinv.progress")


def on_terminal(stream: IO[str] | None = None) -> bool:
    """Whether `stream` (default: stderr, where tqdm writes) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


def quiet_off_terminal(stream: IO[str] | None = None) -> bool:
    """Off a terminal, switch off the one library bar a stage draws: MLflow's, for each artifact
    transfer (logging a model downloads it again to check it), which reads
    `MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR` at every transfer. Set only when unset, so a choice
    made in the environment wins. (tqdm's own `TQDM_DISABLE` would not do: tqdm reads it when
    imported, and torch imports tqdm before any stage code runs.) Returns whether it was off a
    terminal."""
    if on_terminal(stream):
        return False
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return True


class Progress(Generic[T]):
    """Iterate over `iterable`; see `progress`."""

    def __init__(self, iterable: Iterable[T], desc: str, total: int | None, initial: int, enabled: bool, lines: int,
                 leave: bool, stream: IO[str] | None, logger: logging.Logger | None) -> None:
        if total is None:
            try:
                total = initial + len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.iterable, self.desc, self.total, self.initial = iterable, desc, total, initial
        self.lines = max(0, lines) if enabled else 0
        self.logger = logger or log
        self.postfix: dict[str, str] = {}
        self._bar = None
        if enabled and on_terminal(stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(iterable, desc=desc, total=total, initial=initial, leave=leave,
                             file=sys.stderr if stream is None else stream)

    def set_postfix(self, **values: Any) -> None:
        """Shown after the bar, or at the end of the next log line."""
        self.postfix = {k: str(v) for k, v in values.items()}
        if self._bar is not None:
            self._bar.set_postfix(**values)

    def __iter__(self) -> Iterator[T]:
        if self._bar is not None:
            yield from self._bar
            return
        if not self.lines:
            yield from self.iterable
            return
        started = time.perf_counter()
        done = self.initial
        mark = self._next_mark(done)
        for item in self.iterable:
            yield item  # the loop body runs here: the line below carries the postfix it set
            done += 1
            if mark is not None and done >= mark:
                self._line(done, started)
                mark = self._next_mark(done)
        if mark is None and done > self.initial:  # unknown total: one line at the end
            self._line(done, started)

    def _next_mark(self, done: int) -> int | None:
        """The first count above `done` at which a line is due (each 1/lines of the total)."""
        if self.total is None or self.total <= 0:
            return None
        k = math.floor(done * self.lines / self.total) + 1
        return min(self.total, math.ceil(k * self.total / self.lines))

    def _line(self, done: int, started: float) -> None:
        count = f"{done}/{self.total} ({100 * done / self.total:.0f}%)" if self.total else f"{done}"
        extra = "".join(f" {k}={v}" for k, v in self.postfix.items())
        self.logger.info("%s: %s%s [%.0fs]", self.desc, count, extra, time.perf_counter() - started)


def progress(iterable: Iterable[T], desc: str, *, total: int | None = None, initial: int = 0, enabled: bool = True,
             lines: int = 10, leave: bool = True, stream: IO[str] | None = None,
             logger: logging.Logger | None = None) -> Progress[T]:
    """Wrap a loop's `iterable` like `tqdm(iterable, desc=..., total=..., initial=...)`.

    `total` is the whole count (default `initial + len(iterable)`), `initial` how many were done
    before (a resumed run). `enabled=False` shows nothing anywhere. On a terminal (`stream`,
    default stderr): a tqdm bar, kept after the loop when `leave`. Elsewhere: no bar, and at most
    `lines` lines logged (0: none, for loops whose caller logs its own line per round).
    """
    return Progress(iterable, desc, total, initial, enabled, lines, leave, stream, logger)
