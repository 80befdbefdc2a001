"""The promotion gate against a real MLflow registry (SQLite in a temporary directory)."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from pipeline.promotion import METRIC_TAG, promote_candidate
from stages.config import PromotionParams

POLICY = PromotionParams(metrics={"test_accuracy": "max", "onnx.max_abs_diff": "min"}, audit_profile=None)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def client(store):
    """One real SQLite registry for the module (its migrations cost seconds); a model name per test."""
    import mlflow

    return mlflow.MlflowClient(store)


@pytest.fixture
def name(client, request) -> str:
    name = f"model-{request.node.name}"
    client.create_registered_model(name)
    return name


def register(client, name, tmp_path, alias="candidate") -> str:
    """A new version of the registered model (a real artifact directory), with `alias`."""
    count = len(client.search_model_versions(f"name='{name}'"))
    source = tmp_path / f"model{count}"
    source.mkdir()
    (source / "model.onnx").write_bytes(b"not read by the gate")
    version = client.create_model_version(name, str(source)).version
    client.set_registered_model_alias(name, alias, version)
    return str(version)


def champion(client, name) -> str:
    return str(client.get_model_version_by_alias(name, "champion").version)


def test_first_candidate_becomes_champion_and_its_metrics_are_recorded(client, name, tmp_path):
    v1 = register(client, name, tmp_path)
    decision = promote_candidate(client, name, {"test_accuracy": 0.9, "onnx.max_abs_diff": 1e-6},
                                 {"validation": True}, POLICY)
    assert decision.promote and champion(client, name) == v1
    tags = client.get_model_version(name, v1).tags
    assert float(tags[f"{METRIC_TAG}test_accuracy"]) == 0.9 and tags["netinv.check.validation"] == "true"


def test_worse_candidate_is_not_promoted_better_one_is(client, name, tmp_path):
    v1 = register(client, name, tmp_path)
    promote_candidate(client, name, {"test_accuracy": 0.9, "onnx.max_abs_diff": 1e-6}, {}, POLICY)
    v2 = register(client, name, tmp_path)
    worse = promote_candidate(client, name, {"test_accuracy": 0.85, "onnx.max_abs_diff": 1e-6}, {}, POLICY)
    assert not worse.promote and champion(client, name) == v1
    assert "test_accuracy 0.85 < champion's 0.9" in worse.reasons[0]
    assert client.get_model_version(name, v2).tags["netinv.promotion"].startswith("rejected")
    v3 = register(client, name, tmp_path)
    better = promote_candidate(client, name, {"test_accuracy": 0.92, "onnx.max_abs_diff": 1e-6}, {}, POLICY)
    assert better.promote and champion(client, name) == v3
    assert better.comparison["test_accuracy"] == {"candidate": 0.92, "champion": 0.9}
    # lower is better for a `min` metric, whatever the accuracy says
    register(client, name, tmp_path)
    larger_diff = promote_candidate(client, name, {"test_accuracy": 0.95, "onnx.max_abs_diff": 1e-3}, {}, POLICY)
    assert not larger_diff.promote and champion(client, name) == v3


def test_failed_check_blocks_even_a_better_candidate(client, name, tmp_path):
    register(client, name, tmp_path)
    promote_candidate(client, name, {"test_accuracy": 0.5, "onnx.max_abs_diff": 0.0}, {}, POLICY)
    first = champion(client, name)
    register(client, name, tmp_path)
    decision = promote_candidate(client, name, {"test_accuracy": 0.99, "onnx.max_abs_diff": 0.0},
                                 {"validation": True, "audit": False}, POLICY)
    assert not decision.promote and decision.reasons == ["check audit failed"] and champion(client, name) == first


def test_tolerance_and_missing_candidate(client, name, tmp_path):
    assert not promote_candidate(client, name, {"test_accuracy": 1.0}, {}, POLICY).promote  # no candidate at all
    register(client, name, tmp_path)
    promote_candidate(client, name, {"test_accuracy": 0.9, "onnx.max_abs_diff": 0.0}, {}, POLICY)
    register(client, name, tmp_path)
    lenient = POLICY.model_copy(update={"tolerance": 0.02})
    assert promote_candidate(client, name, {"test_accuracy": 0.89, "onnx.max_abs_diff": 0.0}, {}, lenient).promote


def workspace(root, name, accuracy: float, onnx: bytes) -> None:
    """What `dvc repro` leaves: metrics files, the export, dvc.lock recording them, params.yaml."""
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics/classifier.json").write_text(json.dumps({"test_accuracy": accuracy}))
    (root / "metrics/validation.json").write_text(json.dumps({"success": True}))
    lock = {"schema": "2.0", "stages": {
        "train@classifier": {"outs": [{"path": "metrics/classifier.json"}]},
        "validate_samples": {"outs": [{"path": "metrics/validation.json"}]},
        "export_onnx": {"outs": [{"path": "models/classifier.onnx", "md5": hashlib.md5(onnx).hexdigest()}]}}}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))
    params = {"mlflow": {"experiment": "netinv", "registered_model": name}, "promotion": {"audit_profile": None}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))


def exported(client, name, tmp_path, onnx: bytes) -> str:
    """A candidate as the export stage registers it: tagged with its file's md5."""
    version = register(client, name, tmp_path)
    client.set_model_version_tag(name, version, "netinv.onnx_md5", hashlib.md5(onnx).hexdigest())
    return version


def test_pipeline_promote_makes_the_workspaces_export_the_champion(client, store, name, tmp_path, monkeypatch,
                                                                   capsys):
    """What `make repro` runs after `dvc repro`, so that `make audit` finds @champion."""
    from pipeline.__main__ import main

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.chdir(tmp_path)
    workspace(tmp_path, name, 0.9, b"the export")
    v1 = exported(client, name, tmp_path, b"the export")
    assert main(["promote"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["promoted"] and f"candidate v{v1} promoted: first champion" in err
    assert champion(client, name) == v1
    tags = client.get_model_version(name, v1).tags
    assert tags["netinv.check.validation"] == tags["netinv.check.workspace"] == "true"

    # a candidate that is not this workspace's export (another `dvc exp run` registered it) is refused
    exported(client, name, tmp_path, b"an experiment's export")
    assert main(["promote"]) == 0
    refused = json.loads(capsys.readouterr()[0])
    assert not refused["promoted"] and refused["reasons"] == ["check workspace failed"]
    assert champion(client, name) == v1
