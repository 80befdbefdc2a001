"""Resumable training state: written atomically, read safely, resumed only by the same run.

A checkpoint carries a format tag and a fingerprint of what must match (params, the
weights being inverted...). Anything else (another run's file, a corrupt or truncated
one) is ignored with a warning: a bad checkpoint costs a restart, never the run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from netinv.atomic import atomic_path

log = logging.getLogger(__name__)


def save_checkpoint(path: Path, fmt: str, fingerprint: dict[str, Any], **state: Any) -> None:
    with atomic_path(path) as tmp:
        torch.save({"format": fmt, "fingerprint": fingerprint, **state}, tmp)


def load_checkpoint(path: Path | None, fmt: str, fingerprint: dict[str, Any], restart: str) -> dict[str, Any] | None:
    """The state at `path` if this very run wrote it, else None; `restart` says where the run
    starts instead (for the warning), e.g. "step 0"."""
    if path is None or not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        log.warning("ignoring unreadable checkpoint %s (%s); starting from %s", path, exc, restart)
        return None
    if payload.get("format") != fmt or payload.get("fingerprint") != fingerprint:
        log.warning("checkpoint %s is from different parameters or weights; starting from %s", path, restart)
        return None
    return payload
