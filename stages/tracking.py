"""MLflow for stages: one run per stage execution, child of a flow's run when there is one.

Tracking URI: `MLFLOW_TRACKING_URI` when set (the Makefile sets an absolute SQLite path,
so `dvc exp run --temp` copies still log to the project's store), else
`sqlite:///<cwd>/mlflow.db`. A stage that DVC restores from its run-cache does not run,
so it logs nothing: the run that produced those outputs already holds their numbers.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, unquote, urlsplit, urlunsplit
from urllib.request import Request, urlopen

from netinv.errors import NetinvError

__all__ = ["PARENT_RUN_ENV", "TrackingUnavailableError", "check_store", "flatten", "git_commit", "numeric_metrics",
           "public_uri", "redact", "stage_run", "tracking_uri"]

PARENT_RUN_ENV = "NETINV_MLFLOW_PARENT_RUN_ID"
log = logging.getLogger("stages.tracking")

# Fail fast when a tracking server is down, instead of MLflow's minutes of retries.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


# --- the tracking store's check: run before any work by every stage and flow --------------------
# A stage logs to MLflow at its end and an audit after minutes of inversion: without this check a
# dead server, a server that is not MLflow, or one that refuses the credentials would cost the
# whole run first. The check speaks MLflow's REST API (an `/health` that answers 200 proves
# nothing: any web server may have one) with the credentials MLflow itself would send, and every
# message names the server without them (`redact`). Local stores (SQLite, file) need no check.

PROBE = "/api/2.0/mlflow/experiments/get-by-name?experiment_name="
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
FALLBACK = "or unset MLFLOW_TRACKING_URI to log to the local SQLite store mlflow.db"


class TrackingUnavailableError(NetinvError):
    """The configured MLflow tracking server cannot be reached, is not MLflow, or refuses us."""


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"


def redact(text: str) -> str:
    """`text` with the user and password of every URI in it hidden (scheme://***@host): for every
    message, log line and link that may show a tracking URI."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def public_uri(uri: str) -> str:
    """`uri` without its user and password: an address to show people or put in a link."""
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def auth_headers(uri: str) -> dict[str, str]:
    """The Authorization header MLflow's client would send to `uri`: basic auth from the URI's
    user and password, else from MLFLOW_TRACKING_USERNAME / _PASSWORD, else a MLFLOW_TRACKING_TOKEN."""
    parts = urlsplit(uri)
    user, password = parts.username, parts.password
    if user is None:
        user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user is not None:
        pair = f"{unquote(user)}:{unquote(password or '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    if token := os.environ.get("MLFLOW_TRACKING_TOKEN"):
        return {"Authorization": f"Bearer {token}"}
    return {}


def check_store(timeout: float = 10.0, experiment: str = "Default") -> None:
    """Fail in seconds, before any work, unless the tracking URI is a local store or an MLflow
    server that answers its REST API with our credentials.

    The probe looks `experiment` up by name: MLflow answers 200 with the experiment or 404 with
    its JSON error RESOURCE_DOES_NOT_EXIST; anything else is not an MLflow tracking server.
    """
    uri = tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    if "@" in urlsplit(uri).netloc:  # MLflow prints run links with the URI as given
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    request = Request(public_uri(uri).rstrip("/") + PROBE + quote(experiment), headers=auth_headers(uri))
    try:
        with urlopen(request, timeout=timeout) as response:
            status, body = response.status, response.read(65536)
    except HTTPError as exc:
        status, body = exc.code, exc.read(65536)
    except (URLError, OSError) as exc:
        raise _unavailable(uri, str(getattr(exc, "reason", None) or type(exc).__name__)) from exc
    _judge(uri, status, _json(body))


def _json(body: bytes) -> dict | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _judge(uri: str, status: int, body: dict | None) -> None:
    """Accept MLflow's own answers to the probe; explain every other."""
    shown = public_uri(uri)
    if status in (401, 403) and not (body and body.get("error_code") == "PERMISSION_DENIED"):
        raise TrackingUnavailableError(
            f"the MLflow tracking server at {shown} refused the credentials (HTTP {status}); give them in the "
            "URI (http://USER:PASSWORD@HOST) or in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, "
            f"{FALLBACK}")
    if status == 200 and body and isinstance(body.get("experiment"), dict):
        return
    if body and isinstance(body.get("error_code"), str) and status in (403, 404):
        return  # MLflow's JSON error: no such experiment (or not ours to read), but MLflow answers
    raise TrackingUnavailableError(
        f"the server at {shown} is not an MLflow tracking server (GET {PROBE.split('?')[0]} answered HTTP "
        f"{status}{'' if body else ' without MLflow JSON'}); point MLFLOW_TRACKING_URI at the MLflow server "
        f"(`mlflow server`, or make ui), {FALLBACK}")


def _unavailable(uri: str, reason: str) -> TrackingUnavailableError:
    return TrackingUnavailableError(
        f"cannot reach the MLflow tracking server at {public_uri(uri)} ({redact(reason)}); start it (make ui, "
        f"or `mlflow server`), {FALLBACK}")


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


class Unlogged:
    """Stands in for the mlflow module once the server has failed mid-stage: every call is a no-op,
    so the stage's logging code runs to its end and the stage finishes with its outputs."""

    def __getattr__(self, name: str) -> Unlogged:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Unlogged:
        return self


def late_failures() -> tuple[type[BaseException], ...]:
    """What a tracking server that fails mid-stage raises: MLflow's errors and HTTP transport errors."""
    import requests
    from mlflow.exceptions import MlflowException

    return MlflowException, requests.RequestException, ConnectionError, TimeoutError


@contextlib.contextmanager
def stage_run(stage: str, experiment: str, params: Mapping[str, Any]) -> Iterator[Any]:
    """Start an MLflow run for `stage`, log its params and tags; yield the mlflow module.

    Stages write their outputs first, then log here. The store was checked before any work
    (`check_store`), so what fails here is a server that went away during the stage: the
    stage must then still succeed, or DVC would not record the outputs it has already
    written. The failure is reported as a warning naming the incomplete run and the fix.
    """
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    tags = {"netinv.stage": stage}
    if commit := git_commit():
        tags["git_commit"] = commit
    parent = os.environ.get(PARENT_RUN_ENV) or None
    yielded = False
    try:
        mlflow.set_experiment(experiment)
        with mlflow.start_run(run_name=stage, tags=tags, parent_run_id=parent, nested=parent is not None):
            flat = {k: str(v) for k, v in flatten("", params).items()}
            if flat:
                mlflow.log_params(flat)
            yielded = True
            yield mlflow
    except late_failures() as exc:
        _warn_unlogged(stage, exc)
        if not yielded:
            yield Unlogged()


def _warn_unlogged(stage: str, exc: BaseException) -> None:
    reason = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    message = (f"MLflow logging of stage {stage} failed after its outputs were written ({reason}); the "
               f"outputs are kept, so that DVC records them, and the stage's MLflow run at "
               f"{public_uri(tracking_uri())} is missing or incomplete: once the server is back, "
               f"`dvc repro --force {stage.replace('train_', 'train@')}` logs it again")
    log.warning(message)
