"""Deployments: the training flow weekly, the audit of the champion nightly, served by one process.

`python -m pipeline serve` (needs a Prefect server: `prefect server start`, and
PREFECT_API_URL pointing at it) runs both on their schedules until stopped; `prefect.yaml`
declares the same deployments for work pools and workers (`prefect deploy --all`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect.schedules import Cron, Interval

from pipeline.audit import audit_production
from pipeline.training import training_pipeline

TRAINING_CRON = "0 3 * * 1"  # Mondays 03:00
AUDIT_CRON = "0 2 * * *"  # every night 02:00
TIMEZONE = "UTC"
AUDIT_PARAMETERS = {"model": "models:/netinv-classifier@champion", "profile": "default"}
TRAINING_PARAMETERS = {"params_file": "params.yaml", "promote": True}


def training_deployment(**overrides: Any):
    return training_pipeline.to_deployment(
        name="weekly-training", schedule=Cron(TRAINING_CRON, timezone=TIMEZONE), parameters=dict(TRAINING_PARAMETERS),
        description="dvc repro stage by stage, MLflow parent run, promotion gate", tags=["netinv", "training"],
        **overrides)


def audit_deployment(interval_seconds: float | None = None, parameters: dict[str, Any] | None = None):
    """The nightly audit; `interval_seconds` replaces the cron schedule (tests, demos)."""
    schedule = (Interval(dt.timedelta(seconds=interval_seconds)) if interval_seconds
                else Cron(AUDIT_CRON, timezone=TIMEZONE))
    return audit_production.to_deployment(
        name="nightly-audit", schedule=schedule, parameters={**AUDIT_PARAMETERS, **(parameters or {})},
        description="invert the champion, validate, probe, compare with the last audit, report",
        tags=["netinv", "audit"])


def serve_all(audit_interval: float | None = None, audit_parameters: dict[str, Any] | None = None,
              audit_only: bool = False) -> None:
    from prefect import serve

    deployments = [audit_deployment(audit_interval, audit_parameters)]
    if not audit_only:
        deployments.insert(0, training_deployment())
    serve(*deployments)
