"""The training flow: every DVC stage of dvc.yaml in order, one task each, then the promotion gate.

One MLflow parent run per flow run (tags: git commit, dvc.lock hash before and after,
Prefect flow-run id); each stage's run is its child (the id goes to the stage processes
in NETINV_MLFLOW_PARENT_RUN_ID, and in NETINV_REPRO_ID as their `netinv.repro` tag). DVC
decides what to skip: stages that `dvc status` reports unchanged before anything ran are
not even started. A Prefect link artifact
points at the MLflow run, a markdown artifact summarises the stages and metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from netinv.errors import ConfigError
from pipeline import dvc
from pipeline import tracking as tr
from pipeline.promotion import (
    candidate_metrics,
    has_new_candidate,
    promote_candidate,
    validation_checks,
)
from stages.config import load_params
from stages.tracking import (
    PARENT_RUN_ENV,
    REPRO_ENV,
    REPRO_TAG,
    check_store,
    git_commit,
    tracking_uri,
)

TRANSIENT = ("Unable to acquire lock", "database is locked", "Connection refused", "timed out")


def transient_failure(task: Any, task_run: Any, state: Any) -> bool:
    """Retry only what a retry can heal: a DVC lock held by another command, a busy store."""
    try:
        state.result()
    except dvc.StageFailed as exc:
        return any(marker in exc.tail for marker in TRANSIENT)
    except Exception:
        return False
    return False


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10, retry_condition_fn=transient_failure,
      task_run_name="dvc repro {stage}")
def run_stage(stage: str, parent_run_id: str | None) -> str:
    """`dvc repro --single-item STAGE`, its output in the task's log; ran | skipped | restored."""
    logger = get_run_logger()
    env = {"MLFLOW_TRACKING_URI": tracking_uri()}
    if parent_run_id:  # each stage its own `dvc repro`: the parent run is what groups them
        env[PARENT_RUN_ENV] = env[REPRO_ENV] = parent_run_id
    lines = dvc.repro_stage(stage, logger.info, env=env)
    return dvc.outcome(stage, lines)


@task(cache_policy=NO_CACHE)
def promotion_gate(registered_model: str, metrics: dict[str, float], checks: dict[str, bool],
                   params_file: str) -> dict[str, Any]:
    params = load_params(params_file)
    decision = promote_candidate(tr.client(), registered_model, metrics, checks, params.promotion)
    get_run_logger().info(decision.describe())
    return decision.as_dict()


@flow(name="training-pipeline", log_prints=True)
def training_pipeline(params_file: str = "params.yaml", dvc_file: str = "dvc.yaml", stages: list[str] | None = None,
                      promote: bool = True) -> dict[str, Any]:
    """Run the DVC pipeline stage by stage (all of dvc.yaml, or `stages`), then the promotion gate."""
    check_store()  # before any stage runs: each stage checks again, the parent run needs it first
    logger = get_run_logger()
    params = load_params(params_file)
    pipeline = dvc.pipeline_stages(dvc_file)
    if stages:
        unknown = sorted(set(stages) - {s.name for s in pipeline})
        if unknown:
            raise ConfigError(f"unknown stage(s) {unknown}; stages in {dvc_file}: {[s.name for s in pipeline]}")
        pipeline = [s for s in pipeline if s.name in stages]
    flow_run_id = str(runtime.flow_run.id) if runtime.flow_run.id else None
    parent = tr.start_parent_run(params.mlflow.experiment, f"pipeline {runtime.flow_run.name or ''}".strip(), {
        "netinv.stage": "pipeline", "git_commit": git_commit(), "dvc_lock_hash": dvc.lock_hash(),
        "prefect.flow_run_id": flow_run_id})
    tr.client().set_tag(parent, REPRO_TAG, parent)  # the tag its stages' runs carry too
    url = tr.run_url(parent)
    create_link_artifact(url, link_text="MLflow run of this pipeline", key="mlflow-pipeline-run")
    outcomes: dict[str, str] = {}
    status = "FAILED"
    try:
        changed = dvc.changed_stages()
        anything_ran = False
        for stage in pipeline:
            if changed is not None and not anything_ran and stage.name not in changed:
                outcomes[stage.name] = "up to date"
                logger.info("stage %s is up to date (dvc status): not started", stage.name)
                continue
            outcomes[stage.name] = run_stage(stage.name, parent)
            anything_ran = anything_ran or outcomes[stage.name] != "skipped"
        outs = dvc.stage_outputs(s.name for s in pipeline)  # after the run: stages run now included
        metric_files = [m for m in outs if m.endswith(".json")]
        files = tr.read_metrics_files(metric_files)
        metrics = tr.summary_metrics(files)
        client = tr.client()
        client.set_tag(parent, "dvc_lock_hash_after", dvc.lock_hash() or "")
        for name, outcome in outcomes.items():
            client.set_tag(parent, f"stage.{name.replace('@', '_')}", outcome)  # MLflow keys allow no @
        for key, value in metrics.items():
            client.log_metric(parent, key, value)
        for page in (o for o in outs if o.endswith(".html") and Path(o).is_file()):
            client.log_artifact(parent, page)  # the report stage's page, with the parent too
        result: dict[str, Any] = {"mlflow_run_id": parent, "stages": outcomes, "metrics": metrics}
        extra = []
        if promote:
            result["promotion"] = gate(params_file, params, files)
            extra = [f"**Promotion**: {'promoted' if result['promotion']['promoted'] else 'not promoted'} "
                     f"({'; '.join(result['promotion']['reasons'])})"]
            client.set_tag(parent, "promotion", json.dumps(result["promotion"])[:5000])
        create_markdown_artifact(tr.markdown_summary("Pipeline run", outcomes, metrics, url, extra),
                                 key="pipeline-summary", description="stages and metrics of this run")
        status = "FINISHED"
        return result
    finally:
        tr.end_run(parent, status)


def gate(params_file: str, params: Any, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Checks of the candidate (sample validation, its audit), then the promotion gate."""
    policy = params.promotion
    checks = validation_checks(files, policy)
    if policy.audit_profile is not None and has_new_candidate(tr.client(), params.mlflow.registered_model):
        from pipeline.audit import audit_production

        uri = f"models:/{params.mlflow.registered_model}@candidate"
        state = audit_production(model=uri, profile=policy.audit_profile, params_file=params_file,
                                 return_state=True)
        checks["audit"] = state.is_completed()
    return promotion_gate(params.mlflow.registered_model, candidate_metrics(files), checks, params_file)
