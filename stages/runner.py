"""The common skeleton of a stage's `__main__`: user errors print one clear line, no traceback.

A user error is one of the project's own (`NetinvError`: every message names the culprit and
the fix). Anything else (a ValueError from numpy, a RuntimeError from torch) is a bug or an
unforeseen case and keeps its traceback. `--debug` (or NETINV_TRACEBACK=1) shows the traceback
of user errors too.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence

from netinv.errors import DatasetError, NetinvError
from netinv.progress import quiet_off_terminal
from stages.config import Params, load_params
from stages.schema import valid_keys
from stages.tracking import check_store, redact, stage_started

USER_ERRORS = (NetinvError,)  # ParamsError and the tracking store's errors are NetinvErrors too

# Where a stage's core configs come from in params.yaml: one section for all of them, or a
# core config type name -> section ("" for the rest), e.g. {"InversionConfig": "invert", "": "ood"}.
Sections = str | Mapping[str, str]
# A stage's MLflow run name, or a function of its command line giving it (None: no run).
StageName = str | Callable[[Sequence[str]], str | None]


def parser(description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0] if description else None)
    p.add_argument("--params", default="params.yaml", help="parameters file (default: params.yaml)")
    p.add_argument("--debug", action="store_true", help="show the traceback of user errors too")
    return p


class RedactingFilter(logging.Filter):
    """Hides credentials of URIs (MLFLOW_TRACKING_URI=http://user:pass@host) in every log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "@" in message:
            record.msg, record.args = redact(message), None
        return True


def debugging(argv: Sequence[str] | None) -> bool:
    return "--debug" in (sys.argv[1:] if argv is None else argv) or bool(os.environ.get("NETINV_TRACEBACK"))


def run(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None, *,
        section: Sections | None = None, stage: StageName | None = None) -> None:
    """Run a stage's `main`: the tracking store checked first, then, for a `stage` (its MLflow
    run name, or a function of the command line giving it, None for a command that logs
    nothing), the stage's MLflow run opened before `main` and ended with it (`stage_started`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    quiet_off_terminal()  # a log file keeps every redraw of a library's progress bar
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    for noisy in ("alembic", "mlflow", "great_expectations", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        check_store()
        name = stage(args) if callable(stage) else stage
        if name is None or {"-h", "--help"} & set(args):
            main(argv)
        else:
            with stage_started(name, experiment(args)):
                main(argv)
    except USER_ERRORS as exc:
        if debugging(argv):
            raise
        print(f"error: {redact(explain(exc, section))}\n(--debug shows the full traceback)", file=sys.stderr)
        sys.exit(1)


def experiment(argv: Sequence[str]) -> str:
    """The MLflow experiment of the params file the command line names (`--params`)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--params", default="params.yaml")
    return load_params(p.parse_known_args(list(argv))[0].params).mlflow.experiment


def explain(exc: BaseException, section: Sections | None = None) -> str:
    """The message of `exc` with the pipeline's fix added: the params.yaml key behind the core
    field it names, or the `dvc repro` that rebuilds the file or folder it lacks.

    The core does not say either itself: it runs without params.yaml and DVC (tests,
    notebooks, other callers), where "lower the learning rate lr" and "train it first" are
    the right words. Only the stage knows which params section fed which core config, and
    that its inputs are the outputs of other DVC stages.
    """
    text = str(exc)
    if not isinstance(exc, NetinvError):
        return text
    key = params_key(exc, section)
    if key:
        text += f" (set {key} in params.yaml)"
    if exc.rebuild:
        stage, what = ("prepare", "the prepared data") if isinstance(exc, DatasetError) else (
            "STAGE", "the stage that writes it")
        text += f" (run `dvc repro`, or `dvc repro {stage}` for just {what})"
    return text


def params_key(exc: NetinvError, section: Sections | None) -> str | None:
    """The dotted params.yaml key of `exc.field`, or None where no such key exists.

    A dataset's `root`/`name` is always under `data`; another field under the section the
    stage gave for its config type. The key is checked against the params schema, so a field
    the stage does not take from params.yaml names no key rather than a wrong one.
    """
    if exc.field is None:
        return None
    if isinstance(exc, DatasetError):
        prefix: str | None = "data"
    elif isinstance(section, Mapping):
        prefix = section.get(exc.config or "", section.get(""))
    else:
        prefix = section
    if not prefix:
        return None
    parts = (*prefix.split("."), exc.field)
    return ".".join(parts) if exc.field in valid_keys(Params, parts) else None
