"""Atomic file writes: a killed process leaves the previous file, never half a new one.

Everything a stage writes goes through here: write to a temporary file in the same
directory (same filesystem, so the final `os.replace` is atomic), fsync, then replace.

A process killed mid-write (SIGKILL runs no cleanup) leaves its temporary file behind, and
inside a directory output DVC would track it. The temporary name carries the writer's PID
(`.NAME.PID.RANDOM.tmp`), so the next write into that directory removes the leftovers of
writers that are gone (`clean_stale`), before anything can record the directory.

`mkstemp` creates its file readable by its owner only (0600); the file moved into place gets
the mode a plain `open(path, "w")` would give a new file, 0666 less the umask (0644 under the
usual 022), so reports, metrics and MLflow artifacts (copied with their mode) stay readable from
the host when a container writes them as another uid. The directories made on the way are
0777 less the umask (0755).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_TEMP = re.compile(r"\..+\.(?P<pid>\d+)\.[^.]+\.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def clean_stale(directory: str | Path, recursive: bool = False) -> list[Path]:
    """Remove the temporary files that dead writers left in `directory` (and below it when
    `recursive`); return them. A live writer's file, and every other file, is left alone."""
    root = Path(directory)
    if not root.is_dir():
        return []
    found = root.rglob(".*.tmp") if recursive else root.glob(".*.tmp")
    removed = []
    for path in found:
        match = _TEMP.fullmatch(path.name)
        if match and not _alive(int(match["pid"])):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def umask() -> int:
    """The process's umask, read without changing it (os.umask can only set it, which would
    race with other threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc (not Linux): set and restore
    os.umask(mask)
    return mask


def file_mode() -> int:
    """What `open(path, "w")` gives a new file: 0666 less the umask."""
    return 0o666 & ~umask()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success move it into place atomically."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fchmod(fh.fileno(), file_mode())  # mkstemp made it 0600
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def save_npz(path: str | Path, **arrays: Any) -> None:
    """np.savez_compressed, atomically (numpy appends `.npz` to names without it)."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def save_npy(path: str | Path, array: Any) -> None:
    """np.save of one array, atomically."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)


def save_figure(path: str | Path, figure: Any, dpi: int = 110) -> None:
    """A matplotlib figure as PNG, atomically; the figure is closed afterwards."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        figure.savefig(fh, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)


def write_csv(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Rows of one dict each as CSV: the format DVC plots read. The columns are the union of the rows'
    keys, in order of appearance; a row without a column leaves its cell blank."""
    import csv
    import io

    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(k for row in rows for k in row)), restval="")
        writer.writeheader()
        writer.writerows(rows)
    write_text(path, buffer.getvalue())


def save_image(path: str | Path, image: Any) -> None:
    """A PIL image as PNG, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        image.save(fh, format="PNG")
