"""The training flow on a toy DVC project: stages as tasks, MLflow parent and children, the gate."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from pipeline.training import training_pipeline

STAGE = '''
import json, sys
from pathlib import Path
from stages.tracking import stage_run

name = sys.argv[1]
with stage_run(name, "netinv", {"stage": name}) as mlflow:
    if name == "fail":
        print("the toy stage fails on purpose"); sys.exit(2)
    Path("metrics").mkdir(exist_ok=True)
    if name == "train":
        Path("metrics/classifier.json").write_text(json.dumps({"test_accuracy": float(sys.argv[2])}))
        client = mlflow.MlflowClient()
        if not client.search_registered_models("name = 'netinv-classifier'"):
            client.create_registered_model("netinv-classifier")
        version = client.create_model_version("netinv-classifier", "metrics", run_id=mlflow.active_run().info.run_id)
        client.set_registered_model_alias("netinv-classifier", "candidate", version.version)
    else:
        Path("metrics/validation.json").write_text(json.dumps({"success": True}))
    mlflow.log_metric("done", 1.0)
    print(f"toy stage {name} done")
'''


def dvc_yaml(accuracy: float, fail: bool = False) -> str:
    stages = {
        "train": {"cmd": f"{sys.executable} toy.py train {accuracy}", "deps": ["toy.py"],
                  "outs": [{"metrics/classifier.json": {"cache": False}}]},
        "validate": {"cmd": f"{sys.executable} toy.py validate", "deps": ["metrics/classifier.json"],
                     "outs": [{"metrics/validation.json": {"cache": False}}]},
    }
    if fail:
        stages["fail"] = {"cmd": f"{sys.executable} toy.py fail", "deps": ["metrics/validation.json"]}
    return yaml.safe_dump({"stages": stages})


@pytest.fixture
def toy(tmp_path, tracking, monkeypatch, project_root):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PYTHONPATH", str(project_root))
    monkeypatch.chdir(tmp_path)
    params = yaml.safe_load((project_root / "params.yaml").read_text())
    params["promotion"]["audit_profile"] = None  # the audit flow has its own tests
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    (tmp_path / "toy.py").write_text(STAGE)
    (tmp_path / "dvc.yaml").write_text(dvc_yaml(0.8))
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run(["dvc", "init", "-q"], check=True)
    subprocess.run(["git", "add", "-A"], check=True)
    subprocess.run(["git", "commit", "-qm", "toy"], check=True)
    return tmp_path


def artifacts(flow_run_id: str) -> tuple[str, str]:
    """The markdown summary and the MLflow link the flow run left in Prefect."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as prefect:
        found = prefect.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    by_key = {a.key: a.data for a in found}
    return by_key["pipeline-summary"], by_key["mlflow-pipeline-run"]


def client(tracking):
    import mlflow

    return mlflow.MlflowClient(tracking)


def test_stages_run_as_children_of_one_parent_then_promotion(toy, tracking, prefect_server):
    state = training_pipeline(return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["stages"] == {"train": "ran", "validate": "ran"}
    assert result["promotion"]["promoted"] and result["promotion"]["reasons"] == ["first champion"]
    c = client(tracking)
    parent = c.get_run(result["mlflow_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["git_commit"] and parent.data.tags["prefect.flow_run_id"]
    assert len(parent.data.tags["dvc_lock_hash_after"]) == 64  # sha256 of the dvc.lock the run wrote
    assert parent.data.metrics["classifier.test_accuracy"] == 0.8
    children = c.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(r.info.run_name for r in children) == ["train", "validate"]
    assert {r.data.tags["netinv.repro"] for r in children} == {parent.data.tags["netinv.repro"]} == {parent.info.run_id}
    assert str(c.get_model_version_by_alias("netinv-classifier", "champion").version) == "1"
    summary, link = artifacts(parent.data.tags["prefect.flow_run_id"])
    assert "| train | ran |" in summary and "classifier.test_accuracy" in summary
    assert f"/runs/{parent.info.run_id}" in link

    # Nothing changed: no stage is started, no child run appears.
    again = training_pipeline(return_state=True).result()
    assert set(again["stages"].values()) == {"up to date"}
    assert not again["promotion"]["promoted"] and "already is the champion" in again["promotion"]["reasons"][0]

    # A worse model: trained, registered as candidate, refused by the gate.
    (toy / "dvc.yaml").write_text(dvc_yaml(0.7))
    worse = training_pipeline(return_state=True).result()
    assert worse["stages"]["train"] == "ran" and not worse["promotion"]["promoted"]
    assert str(c.get_model_version_by_alias("netinv-classifier", "champion").version) == "1"
    assert str(c.get_model_version_by_alias("netinv-classifier", "candidate").version) == "2"


def test_a_failing_stage_fails_the_flow_and_the_parent_run(toy, tracking, prefect_server):
    (toy / "dvc.yaml").write_text(dvc_yaml(0.8, fail=True))
    state = training_pipeline(promote=False, return_state=True)
    assert state.is_failed()
    assert "stage fail failed" in state.message or "fail" in str(state.message)
    c = client(tracking)
    experiment = c.get_experiment_by_name("netinv")
    parents = c.search_runs([experiment.experiment_id], "tags.`netinv.stage` = 'pipeline'")
    assert [p.info.status for p in parents] == ["FAILED"]
