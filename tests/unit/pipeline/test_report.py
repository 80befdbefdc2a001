"""The HTML report (the `report` stage, the audit/report.py library): self-contained, escaped,
'not run' for missing inputs, logged to MLflow."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from audit import report
from audit.outcome import slug
from audit.verdict import Verdict
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
    write(tmp_path / "ood.json", {"methods": {"garbage": {"mnist": {"auroc": 0.9, "fpr95": 0.3},
                                                          "gaussian": {"auroc": 0.99, "fpr95": 0.01}, "mean_auroc": 0.945},
                                              "energy": {"mnist": {"auroc": 0.8, "fpr95": 0.5},
                                                         "gaussian": {"auroc": 0.95, "fpr95": 0.1}, "mean_auroc": 0.875}},
                                  "best_method": "garbage", "id_rejection_rate": {"garbage": 0.001},
                                  "ood_rejection_rate": {"mnist": 0.43, "gaussian": 1.0},
                                  "id_accuracy": {"plain": 0.91, "garbage": 0.9}})
    png(tmp_path / "plots/roc.png")
    png(tmp_path / "pool/pool_rounds.png")
    section = report.ood_section(tmp_path / "ood.json", tmp_path / "plots", tmp_path / "pool")
    assert section.status == report.MEASURED and section.id == "ood" and section.how
    rule, accuracy, methods = section.tables
    assert accuracy.rows == [["the classifier", "0.91"], ["the garbage model", "0.9"]]
    assert [r[0] for r in rule.rows] == ["real test images (should be kept)", "MNIST digits (should be rejected)",
                                         "Gaussian noise (should be rejected)"]
    assert rule.rows[1][1] == "43%" and rule.rows[2][1] == "100%"  # judged by the verdict card, not here
    assert methods.columns == ["method", "MNIST digits", "Gaussian noise", "mean AUROC"]
    assert methods.rows[0] == ["garbage class: p(garbage) (best)", "0.9 / 0.3", "0.99 / 0.01", "0.945"]
    assert "only 43% of MNIST digits" in section.note and "AUROC 0.9" in section.note
    assert [f.caption.split(" ")[1] for f in section.figures] == ["garbage", "curves,"]  # pool first, then ROC
    write(tmp_path / "reconstruction.json", {"100": {"leakage_gap": 0.3, "gap_ci_low": 0.1, "gap_ci_high": 0.5, "size": 100},
                                             "positive_control": {"verdict": "Positive control: leaks.", "size": 10,
                                                                  "recovered_frac_train": 0.8,
                                                                  "recovered_frac_control": 0.0, "recovered_gap": 0.8,
                                                                  "recovered_ci_low": 0.5, "recovered_ci_high": 1.0},
                                             "audited_model": {"verdict": "Audited: no leakage.", "size": 1000}})
    for size in ("1000", "100"):
        png(tmp_path / f"recon/{size}/pairs.png")
    png(tmp_path / "recon/positive_control/recovery.png")
    section = report.reconstruction_section(tmp_path / "reconstruction.json", tmp_path / "recon", tmp_path / "none")
    assert section.figures[0].caption.startswith("Positive control")
    assert [f.caption.split(" ")[3] for f in section.figures[1:]] == ["100", "1000"]  # numeric order
    assert all("not the audited model" in f.caption for f in section.figures[1:])
    assert section.note.startswith("Audited: no leakage. Positive control: leaks.")
    rows = section.tables[0].rows
    assert [r[1] for r in rows] == ["audited", "control", "surrogate"]  # the audited model first, named
    assert rows[1][6] == "80% / 0%" and rows[1][7] == "+0.8 [+0.5, +1]" and rows[2][5] == "+0.3 [+0.1, +0.5]"
    assert report.ood_section(tmp_path / "missing.json", None).status == report.NOT_RUN


def test_numbers_have_three_significant_digits():
    assert [report.fmt(v) for v in (0.99254, 0.0013, 16.589, 344.41, 1227.7, 421994, 7, float("nan"), None)] == [
        "0.993", "0.0013", "16.6", "344", "1,228", "421,994", "7", "n/a", "None"]
    assert [report.pct(v) for v in (0.3538, 1.0, 0.0013, None)] == ["35.4%", "100%", "0.13%", "—"]


def test_pivot_one_row_per_key_one_column_per_metric():
    headers, rows = report.pivot({"1": {"a": 0.5, "b": 2.0}, "0": {"a": 0.25}}, [("a", "A"), ("b", "B")],
                                 report.class_label(["zero", "one"]), corner="class")
    assert headers == ["class", "A", "B"] and rows == [["one", "0.5", "2"], ["zero", "0.25", "—"]]
    assert report.class_label(["zero"])("7") == "7"  # unknown index: the index itself


def test_per_class_inversion_table_names_classes_and_pairs_real_numbers():
    quality = {"precision": 0.6, "precision_real": 0.95, "eval_agreement": 0.8,
               "per_class": {str(c): {"precision": 0.1 * c, "precision_real": 0.9, "eval_agreement": 0.5}
                             for c in (10, 2, 0)}}
    table = report.inversion_class_table(quality, [f"class {c}" for c in range(11)])
    assert table.columns == ["class", "judge agrees", "precision"]
    assert [r[0] for r in table.rows] == ["class 0", "class 2", "class 10", "all classes"]  # index order
    assert table.rows[1] == ["class 2", "0.5", "0.2 / 0.9"] and table.rows[-1] == ["all classes", "0.8", "0.6 / 0.95"]


def test_validation_rows_show_observed_against_threshold():
    result = {"real_nearest_same_class_distance": 0.2, "checks": {
        "fidelity": {"severity": "critical", "success": False,
                     "observed": {"unexpected_percent": 12.5, "partial_unexpected_list": [False]}},
        "label_balance_kl": {"severity": "critical", "success": True, "observed": 0.0},
        "within_class_diversity": {"severity": "warning", "success": False, "observed": 0.05},
        "no_nan_pixels": {"severity": "critical", "success": True, "observed": {"unexpected_percent": 0.0}},
        "custom": {"severity": "warning", "success": True, "observed": {"x": [1, 2]}}}}
    thresholds = {"min_fidelity": {"value": 0.95, "severity": "critical"}, "max_label_kl": {"value": 0.05},
                  "min_diversity_ratio": {"value": 0.5}}
    rows = report.validation_rows(result, thresholds)
    assert rows[0] == ["the classifier gives the intended class (fidelity)", "87.5% of samples", "≥ 95%",
                       "critical", report.Badge("FAIL", "failed")]
    assert rows[1][1:3] == ["0", "≤ 0.05"]
    assert rows[2][2:] == ["≥ 0.5 × real (0.2) = 0.1", "warning", report.Badge("warn", "warning")]
    assert rows[3][1:3] == ["0% of samples fail", "none"] and rows[4][:3] == ["custom", "—", "—"]
    section = report.suite_section({**result, "critical_failures": ["fidelity"], "warnings": []}, "V")
    assert section.status == "failed" and section.tables[0].columns == ["check", "observed", "threshold",
                                                                          "severity", "result"]


def test_class_names_from_grid_files(tmp_path):
    for name in ("00_T-shirt-top", "01_Ankle_boot", "02_Odd_one"):
        png(tmp_path / f"grids/{name}.png")
    assert report.class_names_from_grids(tmp_path / "grids", ["Ankle boot", "T-shirt/top"]) == [
        "T-shirt/top", "Ankle boot", "Odd one"]
    png(tmp_path / "gaps/00_a.png")
    png(tmp_path / "gaps/02_c.png")
    assert report.class_names_from_grids(tmp_path / "gaps") == [] == report.class_names_from_grids(None)
    assert report_stage.class_names(None, None, tmp_path) == ["T-shirt-top", "Ankle boot", "Odd one"]
    write(tmp_path / "meta.json", {"class_names": ["a", "b"]})
    assert report_stage.class_names(tmp_path / "meta.json", None, tmp_path) == ["a", "b"]


def test_a_verdict_sets_its_sections_badge_and_links_to_it():
    sections = [report.Section("Out-of-distribution detection", status=report.MEASURED, anchor="ood"),
                report.Section("Training-data reconstruction", status=report.MEASURED, anchor="reconstruction"),
                report.not_run("Network inversion", "inversion", anchor="inversion")]
    verdicts = [Verdict("OOD rejection", "fail", "MNIST rejected 43%", ">= 50% (warning)", "Most digits pass."),
                Verdict("Training-data leakage", "pass", "+0 [+0, +0]", "CI low <= 0", "No leakage.", "nowhere")]
    lines = report.card_lines(verdicts, sections)
    assert [(line.topic, line.status, line.anchor) for line in lines] == [
        ("OOD rejection", "fail", "ood"), ("Training-data leakage", "pass", "reconstruction"),
        ("What the model learned", report.NOT_RUN, "inversion")]  # a topic without a verdict: 'not run'
    judged = report.judged_sections(sections, lines)
    assert [s.status for s in judged] == ["failed", "ok", report.NOT_RUN]
    html = report.render("t", sections, verdicts=verdicts)
    assert html.index('id="verdict-card"') < html.index('<nav class="toc"') < html.index("<section")
    assert '<a href="#ood">OOD rejection</a>' in html and 'id="ood"' in html
    assert '<span class="status failed">failed</span></h2>' in html  # the OOD section's badge
    assert report.render("t", sections).count("verdict-card") == 0  # no verdicts, no gate line: no card


def test_pngs_are_recompressed_losslessly(tmp_path):
    rgba = np.zeros((40, 60, 4), dtype=np.uint8)
    rgba[..., :3] = np.arange(60, dtype=np.uint8)[None, :, None]
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "grey.png")
    uri = report.png_uri(tmp_path / "grey.png")
    decoded = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert decoded.mode == "L" and np.array_equal(np.asarray(decoded), rgba[..., 0])
    assert len(base64.b64decode(uri.split(",", 1)[1])) <= (tmp_path / "grey.png").stat().st_size


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


def tiny_pipeline_inputs(root):
    """Tiny but complete pipeline outputs: every section has numbers and a picture or two."""
    write(root / "classifier.json", {"test_accuracy": 0.9, "per_class_accuracy": {"b": 0.8, "a": 0.95}})
    write(root / "inversion.json", {"fidelity": 0.99, "eval_agreement_heldout": 0.4, "coverage": 0.01,
                                    "coverage_real": 0.6, "per_class": {"0": {"eval_agreement_heldout": 0.3},
                                                                        "1": {"eval_agreement_heldout": 0.5}}})
    write(root / "validation.json", {"critical_failures": [], "warnings": [], "checks": {
        "fidelity": {"severity": "critical", "success": True, "observed": {"unexpected_percent": 1.0}}}})
    write(root / "ood.json", {"methods": {"garbage": {"mnist": {"auroc": 0.95, "fpr95": 0.2}}},
                              "ood_rejection_rate": {"mnist": 0.43}, "id_rejection_rate": {"garbage": 0.01}})
    write(root / "reconstruction.json", {"audited_model": {"recovered_gap": 0.0, "recovered_ci_low": 0.0,
                                                           "recovered_ci_high": 0.0, "size": 100}})
    rng = np.random.default_rng(0)
    for path in ("samples/overview.png", "samples/grids/00_a.png", "samples/grids/01_b.png", "pool/pool_rounds.png"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (600, 900), dtype=np.uint8)).save(root / path)
    return [report.classifier_section(root / "classifier.json", None, None, ["a", "b"]),
            report.inversion_section(root / "inversion.json", root / "samples", 2, ["a", "b"]),
            report.validation_section(root / "validation.json"),
            report.ood_section(root / "ood.json", None, root / "pool"),
            report.reconstruction_section(root / "reconstruction.json", None, None)]


def colour_pixels(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 8) -> int:
    return int((np.abs(image.astype(int) - np.array(rgb)).max(axis=2) <= tolerance).sum())


def test_the_verdict_card_is_the_first_screen_in_chromium(tmp_path):
    """The card comes first in the DOM and all of it is on a 1400x900 screen (each line's badge in its
    card colour: fail, warn, pass); the page is taller than that, and the console stays silent."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("chromium is not installed: `make setup` installs the Debian package chromium")
    sections = tiny_pipeline_inputs(tmp_path)
    verdicts = [Verdict("What the model learned", "fail", "held-out judge agreement 0.4", ">= 0.5 (critical)",
                        "The samples do not show what the model learned.", "inversion"),
                Verdict("OOD rejection", "warn", "rejected by the garbage class (mnist) 0.43", ">= 0.5 (warning)",
                        "OOD inputs are rejected, with reservations.", "ood"),
                Verdict("Training-data leakage", "pass", "recovered gap +0.000", "<= 0 (critical)",
                        "No leakage found.", "reconstruction")]
    page = tmp_path / "report.html"
    page.write_text(report.render("tiny report", sections, [("generated", "now")], verdicts=verdicts))
    common = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.index('id="verdict-card"') < dom.index('class="toc"') < dom.index("<section")
    assert dom.count('<tr class="verdict">') == 3
    shot = tmp_path / "top.png"
    result = subprocess.run([*common, "--window-size=1400,900", f"--screenshot={shot}", "--enable-logging=stderr",
                             "--v=0", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    screen = np.asarray(Image.open(shot).convert("RGB"))
    assert screen.shape[:2] == (900, 1400)
    card = {"fail": (0xB7, 0x1C, 0x1C), "warn": (0xF5, 0x7F, 0x17), "pass": (0x1B, 0x5E, 0x20)}  # .card badges
    assert {status: colour_pixels(screen, rgb) > 400 for status, rgb in card.items()} == dict.fromkeys(card, True)
    assert colour_pixels(screen, (0xC6, 0x28, 0x28)) > 0  # the failed inversion section's badge (contents)
    page.write_text(report.render("tiny report", sections, [("generated", "now")]))  # the same page, no card
    subprocess.run([*common, "--window-size=1400,900", f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=120, check=True)
    screen = np.asarray(Image.open(shot).convert("RGB"))
    assert not any(colour_pixels(screen, rgb) for rgb in card.values())  # those colours were the card's


def test_audit_page_names_classes_links_probes_and_shows_thresholds(tmp_path):
    from types import SimpleNamespace

    from audit.outcome import audit_sections
    from audit.probes import ProbeResult

    model = SimpleNamespace(reference="m.onnx", sha256="ab" * 32, registered={}, checks={"max_abs_diff": 1e-6})
    quality = {"fidelity": 0.97, "eval_agreement_heldout": 0.7, "coverage": 0.05, "coverage_real": 0.6,
               "per_class": {"0": {"eval_agreement_heldout": 0.6}, "1": {"eval_agreement_heldout": 0.8}}}
    inversion = SimpleNamespace(images=np.zeros((4, 1, 8, 8), np.uint8), history=[{"step": 5}], seconds=1.0,
                                quality=quality)
    validation = {"critical_failures": [], "warnings": [], "checks": {
        "fidelity": {"severity": "critical", "success": True, "observed": {"unexpected_percent": 3.0}}}}
    probes = [ProbeResult("ood", {"mnist_best_auroc": 0.8}, warnings=["low"],
                          section=report.Section("Out-of-distribution checks", status="warning"))]
    sections = audit_sections(model, inversion, validation, probes, {"previous_run_id": None}, tmp_path, [], ["low"],
                              class_names=["shirt", "shoe"], thresholds={"min_fidelity": {"value": 0.9}})
    by_id = {s.id: s for s in sections}
    assert list(by_id) == ["model", "checks", "inversion", "validation", "ood", "leakage", "previous"]
    assert [r[0] for r in by_id["inversion"].tables[1].rows] == ["shirt", "shoe", "all classes"]
    assert by_id["validation"].tables[0].rows[0][1:3] == ["97% of samples", "≥ 90%"]
    assert by_id["ood"].how and by_id["leakage"].status == report.NOT_RUN
    verdicts = [Verdict("OOD rejection", "fail", "best AUROC (mnist, vim) 0.8", ">= 0.9 (critical)", "No.", "ood")]
    html = report.render("Audit of m.onnx", sections, verdict="FAILED: x", verdict_ok=False, verdicts=verdicts)
    assert html.index('id="verdict-card"') < html.index('<section id="model">')
    assert '<section id="ood">\n<h2>Out-of-distribution checks<span class="status failed">' in html
