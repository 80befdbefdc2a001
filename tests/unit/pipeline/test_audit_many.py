"""Scale-out: several audits at once on a local Dask cluster of 2 worker processes."""

from __future__ import annotations

import json
import os

import pytest

from pipeline.audit import audit_many, dask_runner

pytestmark = pytest.mark.slow


def test_two_models_audited_in_parallel_on_two_dask_workers(audit_project, tracking, monkeypatch, prefect_server):
    monkeypatch.chdir(audit_project)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    models = [str(audit_project / "models/classifier.onnx"), str(audit_project / "models/classifier.pt")]
    state = audit_many.with_options(task_runner=dask_runner(workers=2))(models=models, return_state=True)
    assert state.is_completed(), state.message
    results = state.result()
    assert [r["model"] for r in results] == models and all(r["passed"] for r in results)
    pids = set()
    for r in results:
        details = json.loads((audit_project / r["report"]).with_name("audit.json").read_text())
        assert details["model"] == r["model"] and {p["name"] for p in details["probes"]} == {"ood", "leakage"}
        pids.add(details.get("worker_pid"))
    assert os.getpid() not in pids, "the audits ran on the Dask workers, not in the test process"

    import mlflow

    client = mlflow.MlflowClient(tracking)
    runs = client.search_runs([client.get_experiment_by_name("audits").experiment_id])
    assert sorted(r.data.tags["netinv.audit.model"] for r in runs) == sorted(models)
