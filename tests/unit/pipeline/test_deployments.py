"""Deployments without a server: schedules and parameters, and prefect.yaml declaring the same."""

from __future__ import annotations

import datetime as dt
import inspect

import yaml

from pipeline import deploy


def test_training_weekly_audit_nightly_with_parameters():
    training = deploy.training_deployment()
    audit = deploy.audit_deployment()
    assert training.name == "weekly-training" and audit.name == "nightly-audit"
    assert training.schedules[0].schedule.cron == deploy.TRAINING_CRON == "0 3 * * 1"
    assert audit.schedules[0].schedule.cron == deploy.AUDIT_CRON == "0 2 * * *"
    assert audit.parameters == {"model": "models:/netinv-classifier@champion", "profile": "default"}
    assert training.parameters == {"params_file": "params.yaml", "promote": True}
    for deployment, flow in ((training, deploy.training_pipeline), (audit, deploy.audit_production)):
        assert set(deployment.parameters) <= set(inspect.signature(flow.fn).parameters)  # real flow parameters


def test_interval_audit_for_demos_and_tests():
    audit = deploy.audit_deployment(interval_seconds=15, parameters={"profile": "tiny"})
    assert audit.schedules[0].schedule.interval == dt.timedelta(seconds=15)
    assert audit.parameters["profile"] == "tiny" and audit.parameters["model"].endswith("@champion")


def test_prefect_yaml_declares_the_same_deployments(project_root):
    spec = yaml.safe_load((project_root / "prefect.yaml").read_text())
    by_name = {d["name"]: d for d in spec["deployments"]}
    expected = {"weekly-training": deploy.training_deployment(), "nightly-audit": deploy.audit_deployment()}
    assert set(by_name) == set(expected)
    for name, deployment in expected.items():
        declared = by_name[name]
        assert declared["schedules"][0]["cron"] == deployment.schedules[0].schedule.cron
        assert declared["parameters"] == deployment.parameters
        path, _, function = declared["entrypoint"].partition(":")
        assert (project_root / path).is_file() and f"def {function}(" in (project_root / path).read_text()
        assert declared["work_pool"]["name"] == "netinv"
