"""MLflow for stages: one run per stage execution, child of a flow's run when there is one.

The run opens when the stage starts (the runner's `stage_started`) and ends with the stage:
FINISHED, FAILED or KILLED. Every run carries `netinv.repro`, shared by all stages of one
`dvc repro` (`repro_id`), and the experiment is tagged for MLflow 3's classic ML view.
Tracking URI: `MLFLOW_TRACKING_URI` when set (the Makefile sets an absolute SQLite path,
so `dvc exp run --temp` copies still log to the project's store), else
`sqlite:///<cwd>/mlflow.db`. A stage that DVC restores from its run-cache does not run,
so it logs nothing: the run that produced those outputs already holds their numbers.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, unquote, urlsplit, urlunsplit
from urllib.request import Request, urlopen

from netinv.errors import NetinvError

__all__ = ["PARENT_RUN_ENV", "REPRO_ENV", "REPRO_TAG", "TrackingUnavailableError", "check_store", "experiment_id",
           "flatten", "git_commit", "log_live", "log_pyfunc", "log_splits", "numeric_metrics", "public_uri", "redact", "repro_id",
           "stage_run", "stage_started", "tracking_uri"]

PARENT_RUN_ENV = "NETINV_MLFLOW_PARENT_RUN_ID"
log = logging.getLogger("stages.tracking")

# Fail fast when a tracking server is down, instead of MLflow's minutes of retries.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


# --- the tracking store's check: run before any work by every stage and flow --------------------
# A stage logs its results at its end and an audit after minutes of inversion: without this check
# a dead server, a server that is not MLflow, or one that refuses the credentials would cost the
# whole run first (or leave a stage working without its run). The check speaks MLflow's REST API (an `/health` that answers 200 proves
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


# --- the stage's run: opened by the runner before the work, ended with the stage's fate ------------
# A run opened at the stage's end would time milliseconds for a ten-minute stage and leave
# nothing of a stage that crashed. So the runner (stages/runner.py) opens it before `main`
# and ends it FINISHED, FAILED (an exception) or KILLED (Ctrl+C, SIGTERM); the stage's
# `stage_run` at its end logs its params and results into that open run. Called without
# the runner (tests, notebooks), `stage_run` opens and ends a run of its own, as before.

REPRO_ENV = "NETINV_REPRO_ID"
REPRO_TAG = "netinv.repro"
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"  # MLflow 3's UI: the ML, not GenAI, view


class Terminated(SystemExit):
    """SIGTERM while a stage's run is open: exits 143 (the shell's code for it), the run KILLED."""


_open: dict[str, Any] = {"run_id": None, "warned": False, "live_failed": False}


def repro_id() -> str:
    """What groups the runs of one `dvc repro` (tag `netinv.repro`), identical for all its stages.

    1. `NETINV_REPRO_ID` when set: the Prefect flow sets its parent run's id (each stage is
       a `dvc repro --single-item` of its own there); anyone may set one to group more.
    2. Else the `dvc` process that runs this stage: DVC starts every stage of one `dvc repro`
       (or of one `dvc exp run`) as a child of the same process, so its pid with its start
       time (and the boot id: pids are reused) names exactly that repro and no other. A
       content hash (dvc.yaml, params.yaml, git commit) would not: two repros of the same
       code and params would share it, and the runs of a crash and of its rerun would mix.
    3. Else (a stage run by hand, no /proc outside Linux): this process alone.
    """
    return os.environ.get(REPRO_ENV) or _process_repro_id()


@functools.cache  # one value per process: the runner's run and a fallback run of `stage_run` agree
def _process_repro_id() -> str:
    pid = _dvc_ancestor()
    key = f"{_boot_id()}:{pid}:{_start_ticks(pid)}" if pid else f"{_boot_id()}:{os.getpid()}:{time.time_ns()}"
    return ("dvc-" if pid else "process-") + hashlib.sha256(key.encode()).hexdigest()[:16]


def _proc(pid: int, name: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes()
    except OSError:
        return b""


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces): state, ppid, ..."""
    return _proc(pid, "stat").decode(errors="replace").rpartition(")")[2].split()


def _start_ticks(pid: int) -> str:
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""  # field 22 of stat: start time since boot


def _dvc_ancestor(limit: int = 8) -> int | None:
    """The nearest ancestor process that is `dvc` (its console script, or python -m dvc)."""
    pid = os.getppid()
    for _ in range(limit):
        if pid <= 1:
            return None
        argv = [a.decode(errors="replace") for a in _proc(pid, "cmdline").split(b"\0") if a]
        if any(Path(a).name in ("dvc", "dvc.exe") for a in argv[:2]) or argv[1:3] == ["-m", "dvc"]:
            return pid
        fields = _stat(pid)
        if len(fields) < 2:
            return None
        pid = int(fields[1])
    return None


def run_tags(stage: str) -> dict[str, str]:
    """The tags of every stage run: the stage, the repro it belongs to, the code's commit."""
    tags = {"netinv.stage": stage, REPRO_TAG: repro_id()}
    if commit := git_commit():
        tags["git_commit"] = commit
    if dvc_stage := os.environ.get("DVC_STAGE"):
        tags["netinv.dvc_stage"] = dvc_stage  # as DVC names it: train@classifier, cell@... (in ablation/)
    return tags


def experiment_id(client: Any, name: str) -> str:
    """The id of experiment `name`, created if needed, tagged for MLflow 3's classic ML view
    (`mlflow.experimentKind` = `custom_model_development`: without it the UI may open the
    experiment in its GenAI view of traces and prompts)."""
    found = client.get_experiment_by_name(name)
    if found is None:
        return client.create_experiment(name, tags={KIND_TAG: KIND})
    if found.tags.get(KIND_TAG) != KIND:
        client.set_experiment_tag(found.experiment_id, KIND_TAG, KIND)
    return found.experiment_id


def _start(mlflow: Any, stage: str, experiment: str) -> Any:
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(experiment_id=experiment_id(mlflow.MlflowClient(), experiment))
    parent = os.environ.get(PARENT_RUN_ENV) or None
    return mlflow.start_run(run_name=stage, tags=run_tags(stage), parent_run_id=parent, nested=parent is not None)


def main_process() -> bool:
    """Rank 0 of a torchrun launch, or a plain process: only it has a run (and writes outputs)."""
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM (a `kill`, a cancelled flow) ends the stage like Ctrl+C does, so its run is ended too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated(128 + signum)

    before = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


@contextlib.contextmanager
def stage_started(stage: str, experiment: str) -> Iterator[None]:
    """The stage's run, open while the stage works: started now (so its start time is the
    stage's), ended FINISHED when the body returns, KILLED on Ctrl+C or SIGTERM, FAILED on
    any other exception (which goes on unchanged).

    The store was checked just before (`check_store`); should the run still not open, the
    stage works on and `stage_run` logs a run of its own at the end. A store that fails
    at the end costs the run's status, never the stage (see `stage_run`).
    """
    import mlflow

    if not main_process():
        yield
        return
    try:
        run = _start(mlflow, stage, experiment)
    except late_failures() as exc:
        log.warning("could not open the MLflow run of stage %s before its work (%s); it is logged at its end",
                    stage, _reason(exc))
        yield
        return
    _open.update(run_id=run.info.run_id, warned=False, live_failed=False)
    status = "FAILED"
    try:
        with _sigterm_raises():
            yield
        status = "FINISHED"
    except (KeyboardInterrupt, Terminated):
        status = "KILLED"
        raise
    except SystemExit as exc:
        status = "FINISHED" if exc.code in (None, 0) else "FAILED"
        raise
    finally:
        warned = _open["warned"]
        _open.update(run_id=None)
        try:
            mlflow.end_run(status)
        except late_failures() as exc:
            if not warned and status == "FINISHED":
                _warn_unlogged(stage, exc)
            else:
                log.warning("could not mark the MLflow run of stage %s %s (%s)", stage, status, _reason(exc))


def opened_run(mlflow: Any) -> Any | None:
    """The run the runner opened for this stage, when it is the active one."""
    active = mlflow.active_run()
    return active if active is not None and active.info.run_id == _open["run_id"] else None


def log_live(metrics: Mapping[str, float], step: int) -> bool:
    """Log `metrics` into the stage's open run while the stage works (an epoch's loss, say);
    False when there is none (called without the runner, another rank, the store failed):
    the stage then logs them with the rest at its end."""
    if _open["run_id"] is None or _open["live_failed"]:
        return False
    import mlflow

    try:
        mlflow.log_metrics(dict(metrics), step=step)
    except late_failures() as exc:
        _open["live_failed"] = True
        log.warning("live MLflow logging failed (%s): the stage logs at its end", _reason(exc))
        return False
    return True


@contextlib.contextmanager
def stage_run(stage: str, experiment: str, params: Mapping[str, Any]) -> Iterator[Any]:
    """Log `params` into the stage's run and yield the mlflow module to log its results.

    Under the runner that run is already open (`stage_started`): it is used, and ended by
    the runner. Without it, a run is started here and ended when the block ends.

    Stages write their outputs first, then log here. The store was checked before any work
    (`check_store`), so what fails here is a server that went away during the stage: the
    stage must then still succeed, or DVC would not record the outputs it has already
    written. The failure is reported as a warning naming the incomplete run and the fix.
    """
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    yielded = False
    try:
        if opened_run(mlflow) is not None:
            _log_params(mlflow, params)
            yielded = True
            yield mlflow
            return
        mlflow.set_experiment(experiment_id=experiment_id(mlflow.MlflowClient(), experiment))
        parent = os.environ.get(PARENT_RUN_ENV) or None
        with mlflow.start_run(run_name=stage, tags=run_tags(stage), parent_run_id=parent, nested=parent is not None):
            _log_params(mlflow, params)
            yielded = True
            yield mlflow
    except late_failures() as exc:
        _warn_unlogged(stage, exc)
        if not yielded:
            yield Unlogged()


def _log_params(mlflow: Any, params: Mapping[str, Any]) -> None:
    flat = {k: str(v) for k, v in flatten("", params).items()}
    if flat:
        mlflow.log_params(flat)


def log_splits(mlflow: Any, directory: Path, data: Any) -> None:
    """The prepared splits as the run's inputs (`mlflow.log_input`: name, digest, source, schema
    and row count; not their content). The digest is the md5 of the split's file, as DVC
    records it in the directory's manifest, so a run names the exact data it read."""
    from mlflow.data import from_numpy

    for split, context in (("train", "training"), ("val", "validation"), ("test", "testing")):
        path = (Path(directory) / f"{split}.npz").resolve()
        ds = getattr(data, split)
        digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() if path.is_file() else None
        dataset = from_numpy(ds.images, source=str(path), targets=ds.labels,
                             name=f"{data.meta.get('dataset', 'data')}-{split}", digest=digest)
        mlflow.log_input(dataset, context=context)


def pins(*distributions: str) -> list[str]:
    """`NAME==VERSION` of the installed `distributions` (a local version label like +cpu dropped)."""
    from importlib.metadata import version

    return [f"{name}=={version(name).split('+')[0]}" for name in distributions]


def log_pyfunc(mlflow: Any, name: str, code: str, artifacts: Mapping[str, str], signature: Any, input_example: Any,
               requirements: Sequence[str], metadata: Mapping[str, Any] | None = None,
               model_config: Mapping[str, Any] | None = None) -> Any:
    """Log a netinv object that is no plain nn.Module as an MLflow pyfunc model, from code: the
    file `stages/CODE` (kept with the model, run to load it) and `artifacts` (its weights, as
    netinv's safe files). The pinned `requirements` are given, not inferred (MLflow would load
    the model in a subprocess to guess them); the netinv package itself must be installed."""
    return mlflow.pyfunc.log_model(
        name=name, python_model=str(Path(__file__).with_name(code)), artifacts=dict(artifacts), signature=signature,
        input_example=input_example, pip_requirements=pins(*requirements),
        metadata={"requires": "the netinv package (pip install -e . in the netinv project)", **(metadata or {})},
        model_config=dict(model_config) if model_config else None)


def _reason(exc: BaseException) -> str:
    return redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def _warn_unlogged(stage: str, exc: BaseException) -> None:
    _open["warned"] = True
    reason = _reason(exc)
    message = (f"MLflow logging of stage {stage} failed after its outputs were written ({reason}); the "
               f"outputs are kept, so that DVC records them, and the stage's MLflow run at "
               f"{public_uri(tracking_uri())} is missing or incomplete: once the server is back, "
               f"`dvc repro --force {stage.replace('train_', 'train@')}` logs it again")
    log.warning(message)
