"""The audit flow on tiny real models: an ONNX file, a registered model, a failing audit, a degenerate
model that fidelity and confidence cannot catch; the `audit` stage on the same engine."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from torch import nn

from audit.engine import AuditFailed
from netinv.export import export_onnx
from pipeline.__main__ import main as cli
from pipeline.audit import audit_production
from stages import audit as audit_stage


@pytest.fixture
def project(audit_project, tracking, monkeypatch, one_thread):
    monkeypatch.chdir(audit_project)
    return audit_project


def audit_runs(tracking):
    import mlflow

    client = mlflow.MlflowClient(tracking)
    experiment = client.get_experiment_by_name("audits")
    return client, client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])


def test_audit_of_an_onnx_file_then_the_same_again(project, tracking, prefect_server):
    onnx = str(project / "models/classifier.onnx")
    first = audit_production(model=onnx, return_state=True)
    assert first.is_completed(), first.message
    summary = first.result()
    assert summary["passed"] and summary["model"] == onnx
    assert [v["topic"] for v in summary["verdicts"]] == ["What the model learned", "OOD rejection",
                                                         "Training-data leakage"]
    assert summary["verdicts"][0]["status"] in ("pass", "warn")  # warn: the blobs' pixel-mean check warns
    assert isinstance(summary["warnings"], list)
    report = (project / summary["report"]).read_text()
    assert "Audit of" in report and "data:image/png;base64," in report and "<script" not in report
    assert "Out-of-distribution checks" in report and "Reconstruction leakage probe" in report
    details = json.loads((project / summary["report"]).with_name("audit.json").read_text())
    assert details["metrics"]["conversion_max_abs_diff"] <= 1e-4  # onnx2torch matches onnxruntime
    assert details["metrics"]["gradient_mean_abs"] > 0  # and is differentiable
    assert details["comparison"]["previous_run_id"] is None
    assert details["metrics"]["eval_agreement_heldout"] >= 0.5  # the held-out judge recognises the samples
    probes = {p["name"]: p["metrics"] for p in details["probes"]}
    assert set(probes) == {"ood", "leakage"}
    assert probes["ood"]["uniform_best_auroc"] > 0.5  # even a tiny classifier tells noise from clothes
    for set_name in ("mnist", "gaussian", "uniform"):
        assert 0 <= probes["ood"][f"{set_name}_msp_fpr95"] <= 1
    assert probes["leakage"]["gap_ci_low"] <= probes["leakage"]["leakage_gap"] <= probes["leakage"]["gap_ci_high"]

    second = audit_production(model=onnx, return_state=True)
    assert second.is_completed(), second.message
    client, runs = audit_runs(tracking)
    assert len(runs) == 2
    assert {"fidelity", "eval_agreement", "coverage", "conversion_max_abs_diff", "ood.mnist_best_auroc",
            "leakage.leakage_gap"} <= set(runs[1].data.metrics)
    assert "delta_fidelity" in runs[1].data.metrics  # compared with the first audit
    assert runs[1].data.tags["verdict"] == "passed" and runs[1].data.tags["netinv.audit.model"] == onnx
    again = json.loads((project / second.result()["report"]).with_name("audit.json").read_text())
    assert again["comparison"]["previous_run_id"] == runs[0].info.run_id
    assert "report.html" in [a.path for a in client.list_artifacts(runs[1].info.run_id)]


def test_audit_of_the_registered_champion(project, tracking, prefect_server):
    import mlflow
    import onnx

    mlflow.set_tracking_uri(tracking)
    mlflow.set_experiment("netinv")
    with mlflow.start_run():
        info = mlflow.onnx.log_model(onnx.load(str(project / "models/classifier.onnx")), name="onnx",
                                     registered_model_name="netinv-classifier")
    mlflow.MlflowClient().set_registered_model_alias("netinv-classifier", "champion", info.registered_model_version)
    state = audit_production(return_state=True)  # the default: audit.model, the champion
    assert state.is_completed(), state.message
    _, runs = audit_runs(tracking)
    assert runs[-1].data.tags["netinv.audit.model"] == "models:/netinv-classifier@champion"
    assert runs[-1].data.tags["model_version"] == str(info.registered_model_version)


def test_failing_checks_fail_the_flow_with_the_reasons(project, tracking, prefect_server, tmp_path):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["audit"]["profiles"]["tiny"]["checks"]["min_confidence"] = {"value": 1.0, "severity": "critical"}
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump(params))
    state = audit_production(model=str(project / "models/classifier.pt"), params_file=str(strict), return_state=True)
    assert state.is_failed()
    assert "classifier_confidence" in state.message and "failed" in state.message
    _, runs = audit_runs(tracking)
    assert runs[-1].data.tags["verdict"] == "failed" and "classifier_confidence" in runs[-1].data.tags["failures"]


def test_the_stage_runs_the_same_audit_and_fails_with_the_reasons(project, tracking, tmp_path, capsys):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["audit"]["profiles"]["tiny"]["checks"]["min_confidence"] = {"value": 1.0, "severity": "critical"}
    params["audit"]["profiles"]["tiny"]["probes"] = []  # the probes' sections then say "not run"
    strict = tmp_path / "strict.yaml"
    strict.write_text(yaml.safe_dump(params))
    with pytest.raises(AuditFailed, match="classifier_confidence"):
        audit_stage.main([str(project / "models/classifier.pt"), "--params", str(strict),
                          "--reports", str(tmp_path / "reports")])
    report = tmp_path / capsys.readouterr().out.removeprefix("report: ").strip()
    assert report.is_relative_to(tmp_path / "reports") and report.name == "report.html"
    html = report.read_text()
    assert "Audit of" in html and "FAILED" in html and html.count("not run") >= 2
    _, runs = audit_runs(tracking)
    assert runs[-1].data.tags["verdict"] == "failed" and runs[-1].data.tags["audit_profile"] == "tiny"


class FewPixels(nn.Module):
    """A degenerate classifier: the logit of class k reads one background pixel of the bottom row, so
    any image with that pixel bright is class k with confidence, whatever else it shows."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(144, 3)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.bias.fill_(-10.0)
            for k, column in enumerate((9, 10, 11)):
                self.head.weight[k, 11 * 12 + column] = 20.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.flatten(1))


def test_a_model_that_reads_a_few_pixels_fails_on_the_held_out_judge(project, tracking, prefect_server, tmp_path,
                                                                     capsys):
    """Its samples meet fidelity and confidence (the tiny profile's thresholds) yet the held-out judge
    does not recognise them: the audit fails, and the CLI prints the verdict, every failure and
    warning, then the JSON, and exits 1."""
    model = tmp_path / "few_pixels.onnx"
    export_onnx(FewPixels().eval(), (1, 12, 12), model)
    code = cli(["audit", str(model), "--reports", str(tmp_path / "reports")])
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert code == 1 and not summary["passed"]
    assert any(f.startswith("gate: held-out judge agreement") for f in summary["failures"]), summary["failures"]
    assert not any("fidelity" in f or "confidence" in f for f in summary["failures"])  # those pass
    learned = summary["verdicts"][0]
    assert learned["topic"] == "What the model learned" and learned["status"] == "fail"
    assert f"VERDICT FAIL: audit of {model}" in err
    assert "[fail] What the model learned: fidelity" in err and "[not run]" not in err
    for line in summary["failures"] + summary["warnings"]:
        assert line in err
    details = json.loads((tmp_path / summary["report"]).with_name("audit.json").read_text())
    assert details["validation"]["critical_failures"] == [] and details["verdicts"] == summary["verdicts"]
