"""The HTML report (the `report` stage, the audit/report.py library): self-contained, escaped,
'not run' for missing inputs, logged to MLflow."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from audit import report
from audit.outcome import slug
from stages import report as report_stage


def png(path, value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8)).save(path)


def write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def test_pipeline_report_is_self_contained_and_escaped(tmp_path, project_root, tracking, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text((project_root / "params.yaml").read_text())
    write(tmp_path / "metrics/classifier.json", {"test_accuracy": 0.91, "per_class_accuracy": {"<script>x</script>": 0.5}})
    write(tmp_path / "metrics/inversion.json", {"fidelity": 0.97, "per_class": {"0": {"coverage": 0.1}, "1": {"coverage": 0.2}}})
    write(tmp_path / "metrics/validation.json", {"success": False, "critical_failures": ["fidelity"], "warnings": [],
                                                 "checks": {"fidelity": {"severity": "critical", "success": False,
                                                                         "observed": 0.5}}})
    png(tmp_path / "outputs/inversion/overview.png")
    png(tmp_path / "outputs/inversion/grids/00_a.png", 10)
    png(tmp_path / "plots/classifier/confusion.png", 200)
    out = tmp_path / "reports/report.html"
    report_stage.main(["--classifier-metrics", "metrics/classifier.json", "--confusion", "plots/classifier/confusion.png",
                       "--inversion-metrics", "metrics/inversion.json", "--samples", "outputs/inversion",
                       "--validation", "metrics/validation.json", "--ood-metrics", "metrics/ood.json",
                       "--ood-plots", "plots/ood", "--reconstruction-metrics", "metrics/reconstruction.json",
                       "--out", str(out)])
    html = out.read_text()
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script" not in html  # escaped, no script at all
    assert not re.search(r"(src|href)=\"(https?:)?//", html) and "<link" not in html  # nothing fetched
    assert len(re.findall(r'src="data:image/png;base64,', html)) == 3  # overview, one grid, confusion
    assert html.count("not run") >= 2  # OOD and reconstruction
    assert "fidelity" in html and "FAIL" in html
    runs = mlflow.MlflowClient(tracking).search_runs(
        [mlflow.MlflowClient(tracking).get_experiment_by_name("netinv").experiment_id])
    assert runs[0].info.run_name == "report"
    assert [a.path for a in mlflow.MlflowClient(tracking).list_artifacts(runs[0].info.run_id)] == ["report.html"]


def test_ood_and_reconstruction_sections_render_when_present(tmp_path):
    write(tmp_path / "ood.json", {"garbage_class": {"mnist": {"auroc": 0.9, "fpr95": 0.3},
                                                    "gaussian": {"auroc": 0.99, "fpr95": 0.01}}})
    png(tmp_path / "plots/roc.png")
    section = report.ood_section(tmp_path / "ood.json", tmp_path / "plots")
    assert section.status == "ok" and section.tables[0].columns == ["", "auroc", "fpr95"]
    assert len(section.tables[0].rows) == 2 and len(section.figures) == 1
    write(tmp_path / "reconstruction.json", {"sizes": {"100": {"leakage": 0.3}},
                                             "positive_control": {"verdict": "Positive control: leaks."}})
    for size in ("1000", "100"):
        png(tmp_path / f"recon/{size}/pairs.png")
    png(tmp_path / "recon/positive_control/recovery.png")
    section = report.reconstruction_section(tmp_path / "reconstruction.json", tmp_path / "recon", tmp_path / "none")
    assert [f.caption.split(" ")[3] for f in section.figures[:2]] == ["100", "1000"]  # numeric order
    assert section.figures[2].caption.startswith("Positive control")
    assert section.note.startswith("Positive control: leaks.") and "surrogate" in section.note
    assert report.ood_section(tmp_path / "missing.json", None).status == report.NOT_RUN


def test_render_refuses_linked_images():
    section = report.Section("x", figures=[report.Figure("remote", "https://example.org/a.png")])
    with pytest.raises(ValueError, match="self-contained"):
        report.render("t", [section])


def test_audit_folders_of_different_models_never_collide():
    long_dir = "/tmp/" + "x" * 80
    names = {slug(f"{long_dir}/classifier.onnx"), slug(f"{long_dir}/classifier.pt"),
             slug("models:/netinv-classifier@champion"), slug("models:/netinv-classifier/3")}
    assert len(names) == 4
    assert all(len(n) <= 49 and "/" not in n for n in names)
    assert slug("models:/netinv-classifier@champion").startswith("netinv-classifier_champion-")
