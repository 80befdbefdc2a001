"""MLflow for the flows: a parent run held through the client (no active fluent run in the flow's
process, so an in-process audit can start its own), links to the UI, metrics summaries."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stages import tracking as stage_tracking
from stages.tracking import flatten, numeric_metrics, public_uri, tracking_uri

UI_URL_ENV = "NETINV_MLFLOW_UI_URL"  # where people open the MLflow UI (`make ui`: http://127.0.0.1:5000)


def client() -> Any:
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    return mlflow.MlflowClient()


def experiment_id(name: str) -> str:
    """Experiment `name`'s id, created if needed, tagged for MLflow 3's classic ML view."""
    return stage_tracking.experiment_id(client(), name)


def start_parent_run(experiment: str, run_name: str, tags: Mapping[str, str | None]) -> str:
    run = client().create_run(experiment_id(experiment), run_name=run_name,
                              tags={k: str(v) for k, v in tags.items() if v is not None})
    return run.info.run_id


def end_run(run_id: str, status: str = "FINISHED") -> None:
    client().set_terminated(run_id, status=status)


def run_url(run_id: str) -> str:
    """The run's page in the MLflow UI: the tracking server itself when it is one, else NETINV_MLFLOW_UI_URL."""
    c = client()
    run = c.get_run(run_id)
    uri = tracking_uri()
    # A link is shown to people and stored in Prefect: never with the URI's credentials.
    base = public_uri(uri) if uri.startswith(("http://", "https://")) else os.environ.get(UI_URL_ENV,
                                                                                          "http://127.0.0.1:5000")
    return f"{base.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"


def child_runs(parent_run_id: str) -> list[Any]:
    c = client()
    parent = c.get_run(parent_run_id)
    return c.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'")


def read_metrics_files(paths: list[str]) -> dict[str, dict[str, Any]]:
    """{file stem: parsed JSON} for the metrics files that exist. The stages' summaries (metrics/summary/
    STEM.json, the few numbers `dvc metrics show` reads) are left out: each repeats numbers of the full
    file of the same stem, which it would otherwise replace."""
    out = {}
    for path in paths:
        p = Path(path)
        if p.suffix == ".json" and p.is_file() and p.parent.name != "summary":
            out[p.stem] = json.loads(p.read_text())
    return out


def summary_metrics(files: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """Flat numbers of every metrics file, `STEM.key` (per-class detail left out)."""
    out = {}
    for stem, tree in files.items():
        top = {k: v for k, v in tree.items() if k not in ("per_class", "per_class_accuracy", "checks")}
        out.update(numeric_metrics(flatten(stem, top)))
    return out


def markdown_summary(title: str, outcomes: Mapping[str, str], metrics: Mapping[str, float], url: str | None,
                     extra: list[str] | None = None) -> str:
    lines = [f"# {title}", ""]
    if url:
        lines += [f"MLflow run: [{url}]({url})", ""]
    lines += ["| stage | outcome |", "| --- | --- |", *(f"| {s} | {o} |" for s, o in outcomes.items()), ""]
    if metrics:
        lines += ["| metric | value |", "| --- | --- |", *(f"| {k} | {v:.4g} |" for k, v in sorted(metrics.items())),
                  ""]
    lines += extra or []
    return "\n".join(lines)
