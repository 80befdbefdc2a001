"""MLflow for stages: one run per stage execution, child of a flow's run when there is one.

Tracking URI: `MLFLOW_TRACKING_URI` when set (the Makefile sets an absolute SQLite path,
so `dvc exp run --temp` copies still log to the project's store), else
`sqlite:///<cwd>/mlflow.db`. A stage that DVC restores from its run-cache does not run,
so it logs nothing: the run that produced those outputs already holds their numbers.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.request import urlopen

from netinv.errors import NetinvError

PARENT_RUN_ENV = "NETINV_MLFLOW_PARENT_RUN_ID"

# Fail fast when a tracking server is down, instead of MLflow's minutes of retries.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


class TrackingUnavailableError(NetinvError):
    """The configured MLflow tracking server cannot be reached."""


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"


def _unavailable(uri: str, reason: str) -> TrackingUnavailableError:
    return TrackingUnavailableError(
        f"cannot reach the MLflow tracking server at {uri} ({reason}); start it (make ui, or "
        "`mlflow server`), or unset MLFLOW_TRACKING_URI to log to the local SQLite store mlflow.db"
    )


def check_reachable(timeout: float = 5.0) -> None:
    """Fail in seconds, before any work, when the tracking URI names a server that is down.

    A stage logs to MLflow at its end; without this check a dead server would cost a
    whole training run first. Local (SQLite, file) stores need no check.
    """
    uri = tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            if response.status != 200:
                raise _unavailable(uri, f"/health answered HTTP {response.status}")
    except (URLError, OSError) as exc:
        raise _unavailable(uri, getattr(exc, "reason", None) or type(exc).__name__) from exc


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}: MLflow params and metrics are flat."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    return {prefix: value}


def numeric_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of a (nested) metrics dict, ready for mlflow.log_metrics."""
    flat = flatten("", metrics)
    return {
        key.replace("/", "_"): float(v)
        for key, v in flat.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")
    }


@contextlib.contextmanager
def stage_run(stage: str, experiment: str, params: Mapping[str, Any]) -> Iterator[Any]:
    """Start an MLflow run for `stage`, log its params and tags; yield the mlflow module."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    try:
        mlflow.set_experiment(experiment)
    except Exception as exc:
        raise _unavailable(tracking_uri(), f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    tags = {"netinv.stage": stage}
    if commit := git_commit():
        tags["git_commit"] = commit
    parent = os.environ.get(PARENT_RUN_ENV) or None
    with mlflow.start_run(run_name=stage, tags=tags, parent_run_id=parent, nested=parent is not None):
        flat = {k: str(v) for k, v in flatten("", params).items()}
        if flat:
            mlflow.log_params(flat)
        yield mlflow
