"""The promotion gate against a real MLflow registry (SQLite in a temporary directory)."""

from __future__ import annotations

import pytest

from pipeline.promotion import METRIC_TAG, promote_candidate
from stages.config import PromotionParams

POLICY = PromotionParams(metrics={"test_accuracy": "max", "onnx.max_abs_diff": "min"}, audit_profile=None)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """One real SQLite registry for the module (its migrations cost seconds); a model name per test."""
    import mlflow

    return mlflow.MlflowClient(f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}")


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
