"""The audit flows: a production model audited step by step (the work lives in the `audit` package).

`audit_production(model=None)` audits `audit.model` of params.yaml (by default
`models:/netinv-classifier@champion`), or the given `models:/` URI or .onnx / .pt file,
with the profile `profile` (default `audit.profile`): `audit.engine.prepare`, then the steps
of `audit.engine.run`, one task each. The flow ends Failed, with the reasons in the state
message, when a critical check fails; the report, the MLflow run (experiment
`audit.experiment`) and a Prefect link + markdown artifact are written either way. Its result
(the state's data, on failure too) is `result_summary`: the verdict card, every failure and
warning, the MLflow run and the report, which `python -m pipeline audit` prints.
`audit_many` runs whole audits (prepare + run) as tasks on a task runner.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from audit import engine, inversion, outcome, probes
from pipeline import tracking as tr
from stages.config import load_params
from stages.tracking import check_store, experiment_id


@task(cache_policy=NO_CACHE)
def prepare_task(reference: str, params: Any, profile_name: str, work_dir: Path) -> engine.AuditSetup:
    """Load the data and the judge; fetch the model (registry or file), convert ONNX to PyTorch,
    check gradient and parity."""
    setup = engine.prepare(reference, params, profile_name, work_dir)
    get_run_logger().info("model %s (sha256 %s): %s", reference, setup.model.sha256[:12], setup.model.checks)
    return setup


@task(cache_policy=NO_CACHE)
def invert_task(setup: engine.AuditSetup) -> inversion.Inversion:
    done = inversion.invert(setup.model, setup.evaluator, setup.heldout, setup.data, setup.params,
                            setup.profile_name, setup.device)
    q = done.quality
    get_run_logger().info("inversion: fidelity %.3f, eval agreement %.3f, held-out %.3f, coverage %.3f of real "
                          "%.3f (%.0f s)", q["fidelity"], q["eval_agreement"], q["eval_agreement_heldout"],
                          q["coverage"], q["coverage_real"], done.seconds)
    return done


@task(cache_policy=NO_CACHE)
def validate_task(setup: engine.AuditSetup, done: inversion.Inversion) -> dict[str, Any]:
    return inversion.validate(done, setup.model, setup.evaluator, setup.data, setup.profile)


@task(cache_policy=NO_CACHE)
def probes_task(context: probes.ProbeContext) -> list[probes.ProbeResult]:
    return probes.run_probes(context)


@task(cache_policy=NO_CACHE)
def report_task(setup: engine.AuditSetup, done: inversion.Inversion, validation: dict[str, Any],
                results: list[probes.ProbeResult], out_root: Path, tags: dict[str, str]) -> outcome.AuditResult:
    """Compare with the previous audit, write the report, log the MLflow run."""
    return outcome.finish(setup.model, done, validation, results, setup.data.class_names, setup.params,
                          setup.profile_name, out_root, tags)


@flow(name="audit-production", log_prints=True)
def audit_production(model: str | None = None, profile: str | None = None, params_file: str = "params.yaml",
                     reports: str | None = None) -> Any:
    """Audit `model` (models:/NAME@ALIAS, models:/NAME/VERSION, or an .onnx / .pt file)."""
    check_store()  # before any work: the audit logs to MLflow only at its end
    params = load_params(params_file)
    cfg = params.audit
    reference = model or cfg.model
    profile_name = profile or cfg.profile
    cfg.get_profile(profile_name)  # an unknown profile fails the flow before any task
    tags = {"prefect.flow_run_id": str(runtime.flow_run.id)} if runtime.flow_run.id else {}
    with tempfile.TemporaryDirectory(prefix="netinv-audit-") as tmp:
        setup = prepare_task(reference, params, profile_name, Path(tmp))
        done = invert_task(setup)
        validation = validate_task(setup, done)
        results = probes_task(setup.probe_context(done))
        result = report_task(setup, done, validation, results, Path(reports or cfg.reports), tags)
    publish(reference, result)
    summary = result_summary(reference, result)
    if not result.passed:
        get_run_logger().error("audit of %s failed: %s", reference, "; ".join(result.failures))
        return Failed(message=f"audit of {reference} failed: {'; '.join(result.failures)}", data=summary)
    return summary


def result_summary(reference: str, result: outcome.AuditResult) -> dict[str, Any]:
    """What a caller of the flow needs (JSON-ready): the verdict card, every failure and warning, where
    the report and the MLflow run are."""
    return {"model": reference, "passed": result.passed,
            "verdicts": [dataclasses.asdict(v) for v in result.verdicts], "failures": result.failures,
            "warnings": result.warnings, "mlflow_run_id": result.run_id, "report": str(result.report_path)}


def publish(reference: str, result: outcome.AuditResult) -> None:
    """The flow run's artifacts: a link to the MLflow run and a markdown summary."""
    url = tr.run_url(result.run_id)
    create_link_artifact(url, link_text=f"MLflow audit run of {reference}", key="mlflow-audit-run")
    lines = [f"# Audit of `{reference}`: {'passed' if result.passed else 'FAILED'}", "",
             f"MLflow run: [{url}]({url}) · report: `{result.report_path}`", ""]
    lines += [f"- **{v.topic}**: {v.status} ({v.value}; {v.threshold}). {v.sentence}" for v in result.verdicts]
    lines += [f"- failure: {f}" for f in result.failures] + [f"- warning: {w}" for w in result.warnings]
    lines += ["", "| metric | value | change since previous audit |", "| --- | --- | --- |"]
    deltas = result.comparison["metric_deltas"]
    lines += [f"| {k} | {result.metrics[k]:.4g} | {deltas[k]:+.4g} |" if k in deltas else
              f"| {k} | {result.metrics[k]:.4g} | |" for k in outcome.HEADLINE if k in result.metrics]
    create_markdown_artifact("\n".join(lines), key="audit-summary", description=f"audit of {reference}")


@task(cache_policy=NO_CACHE)
def audit_one(reference: str, profile: str | None, params_file: str, reports: str | None) -> dict[str, Any]:
    """A whole audit as one unit of work, for a task runner to place on any worker process."""
    params = load_params(params_file)
    tags = {"prefect.flow_run_id": str(runtime.flow_run.id)} if runtime.flow_run.id else {}
    with tempfile.TemporaryDirectory(prefix="netinv-audit-") as tmp:
        setup = engine.prepare(reference, params, profile, Path(tmp))
        result = engine.run(setup, Path(reports) if reports else None, tags)
    return result_summary(reference, result)


@flow(name="audit-many", log_prints=True)
def audit_many(models: list[str], profile: str | None = None, params_file: str = "params.yaml",
               reports: str | None = None) -> Any:
    """Audit several models at once, one task each, on the flow's task runner (`dask_runner`).

    Log to an MLflow tracking server when the workers are separate processes or machines
    (SQLite has one writer); ends Failed, naming each failed model, when any audit fails.
    """
    import mlflow

    check_store()
    mlflow.set_tracking_uri(tr.tracking_uri())
    # Create the store and the experiment (tagged for the classic ML view) before the fan-out.
    mlflow.set_experiment(experiment_id=experiment_id(mlflow.MlflowClient(), load_params(params_file).audit.experiment))
    futures = [audit_one.submit(reference, profile, params_file, reports) for reference in models]
    results = [f.result() for f in futures]
    lines = ["| model | verdict | report |", "| --- | --- | --- |"]
    lines += [f"| `{r['model']}` | {'passed' if r['passed'] else 'FAILED'} | `{r['report']}` |" for r in results]
    create_markdown_artifact("\n".join(lines), key="audit-many", description=f"{len(results)} audits")
    failed = [r for r in results if not r["passed"]]
    if failed:
        return Failed(message="; ".join(f"audit of {r['model']} failed: {', '.join(r['failures'])}" for r in failed),
                      data=results)
    return results


def dask_runner(address: str | None = None, workers: int = 2) -> Any:
    """A Dask task runner: an existing cluster by scheduler address, else a local cluster of
    `workers` single-threaded processes (audits are CPU-bound PyTorch)."""
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})
