"""The real pipeline, end to end: a copy of the project in a fresh git + DVC repo, tiny profile."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.integration.workspace import run

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def workspace(new_workspace):
    work, env = new_workspace("project")
    first = run(["dvc", "repro"], work, env)
    return work, env, first


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_repro_writes_every_output(workspace):
    work, _, _ = workspace
    for name in ("train", "val", "test"):
        assert (work / "data/prepared" / f"{name}.npz").is_file()
    for name in ("classifier.pt", "evaluator.pt", "heldout.pt", "classifier.onnx"):
        assert (work / "models" / name).stat().st_size > 1000
    assert not list((work / "models").glob("*.data"))  # no ONNX sidecar
    for role in ("classifier", "evaluator", "heldout"):
        metrics = read_json(work / f"metrics/{role}.json")
        assert 0.3 < metrics["test_accuracy"] <= 1.0  # far above chance (0.1) even at the tiny size
        assert len(metrics["per_class_accuracy"]) == 10
        assert (work / f"plots/{role}/training.csv").read_text().startswith("epoch,")
        assert (work / f"plots/{role}/confusion.png").read_bytes()[:4] == b"\x89PNG"
    onnx = read_json(work / "metrics/onnx.json")
    assert onnx["max_abs_diff"] <= 1e-4 and onnx["argmax_agreement"] == 1.0
    assert onnx["ort_latency_ms_b1"] > 0 and onnx["torch_latency_ms_b1"] > 0
    inversion = read_json(work / "metrics/inversion.json")
    for key in ("fidelity", "fidelity_onnx", "eval_agreement", "diversity_cosine", "diversity_cosine_real",
                "diversity_ssim", "diversity_ssim_real", "pixel_spread_ratio", "precision", "recall", "density",
                "coverage", "fid_eval", "kid_eval", "train_seconds", "samples_per_second", "mode",
                "eval_agreement_heldout"):
        assert key in inversion, key
    assert inversion["fidelity"] > 0.5 and inversion["mode"] == "vector"  # the default of params.yaml
    assert 0 < inversion["coverage_real"] <= 1 and "coverage_real" in inversion["per_class"]["0"]
    with np.load(work / "outputs/inversion/samples.npz") as samples:
        assert samples["images"].dtype == np.uint8 and samples["images"].shape == (200, 1, 28, 28)
        assert np.bincount(samples["labels"]).tolist() == [20] * 10
    assert len(list((work / "outputs/inversion/grids").glob("*.png"))) == 10
    distill = read_json(work / "metrics/distill.json")
    for key in ("student_accuracy_samples", "student_accuracy_online", "real_same_count", "noise_floor"):
        assert 0 <= distill[key] <= 1 and 0 <= distill[f"{key}_val"] <= 1, key
    assert 0.3 < distill["teacher_accuracy"] <= 1
    assert distill["teacher_runtime"] == "OnnxRuntimeClassifier"  # distill.teacher: auto, on CPU
    assert distill["seconds"] > 0 and distill["num_samples"] == 200 and distill["student"]["parameters"] > 0
    assert distill["real_same_count"] > distill["noise_floor"]  # the ceiling above the floor, even tiny
    assert (work / "plots/distill/curves.csv").read_text().startswith("source,")
    assert (work / "plots/distill/val_accuracy.csv").read_text().startswith("step,samples,online,real,noise")
    validation = read_json(work / "metrics/validation.json")
    assert validation["success"] is True and "eval_agreement" in validation["checks"]
    assert (work / "reports/data_docs/index.html").is_file()
    assert not (work / "checkpoints/invert.pt").exists()  # removed once the outputs are written
    ood = read_json(work / "metrics/ood.json")
    for method in ("garbage", "garbage_ue", "msp", "maxlogit", "energy", "mahalanobis", "knn", "vim"):
        assert set(ood["methods"][method]) == {"mnist", "gaussian", "uniform", "mean_auroc"}, method
        assert all(0 <= ood["methods"][method]["mnist"][k] <= 1 for k in ("auroc", "aupr_in", "aupr_out", "fpr95"))
    assert ood["methods"]["garbage"]["uniform"]["auroc"] > 0.9  # noise starts the garbage pool
    assert 0.3 < ood["id_accuracy"]["garbage"] <= 1 and 0 <= ood["id_rejection_rate"]["garbage"] <= 1
    assert "fpr95" in ood["conventions"]
    assert (work / "models/ood/detector.json").is_file() and (work / "models/ood/garbage.pt").is_file()
    assert (work / "plots/ood/roc.png").read_bytes()[:4] == b"\x89PNG"
    assert (work / "outputs/ood/pool_rounds.png").read_bytes()[:4] == b"\x89PNG"
    assert (work / "plots/ood/roc.csv").read_text().startswith("method,ood_set,fpr,tpr")
    for name in ("mnist", "gaussian", "uniform"):  # one table per set, a column per method: dvc.yaml's ROC plot
        assert (work / f"plots/ood/roc/{name}.csv").read_text().startswith("fpr,garbage,garbage_ue,msp,")
    assert not (work / "checkpoints/ood/rounds.pt").exists()
    recon = read_json(work / "metrics/reconstruction.json")
    assert set(recon) == {"30", "60", "positive_control", "audited_model"}
    for name in ("positive_control", "audited_model"):
        entry = recon.pop(name)
        for key in ("recovered_frac_train", "recovered_frac_control", "recovered_threshold", "leakage_gap",
                    "gap_ci_low", "gap_ci_high", "ssim_train_mean", "matched_frac_train", "size"):
            assert np.isfinite(entry[key]), (name, key)
        assert entry["method"] == "kkt" and entry["control_split"] == "test" and "95% CI" in entry["verdict"]
        out = work / "outputs/reconstruction" / name
        assert len(np.load(out / "train_indices.npy")) == len(np.load(out / "control_indices.npy")) == entry["size"]
        with np.load(out / "reconstructions.npz") as r:
            assert r["images"].dtype == np.uint8 and r["labels"].dtype == np.int64
        assert (out / "recovery.png").read_bytes()[:4] == b"\x89PNG"
    for size, entry in recon.items():
        for key in ("ssim_train_mean", "ssim_control_mean", "leakage_gap", "gap_ci_low", "gap_ci_high",
                    "matched_frac_train", "matched_frac_control"):
            assert np.isfinite(entry[key]), (size, key)
        assert entry["gap_ci_low"] <= entry["leakage_gap"] <= entry["gap_ci_high"]
        assert entry["leakage_gap"] == pytest.approx(entry["ssim_train_mean"] - entry["ssim_control_mean"])
        assert entry["control_split"] == "train"
        out = work / "outputs/reconstruction" / size
        train_idx, control_idx = np.load(out / "train_indices.npy"), np.load(out / "control_indices.npy")
        assert len(train_idx) == len(control_idx) == int(size) and not set(train_idx) & set(control_idx)
        with np.load(out / "reconstructions.npz") as r:
            assert r["images"].dtype == np.uint8 and r["images"].shape[1:] == (1, 28, 28)
            assert r["labels"].dtype == np.int64 and len(r["labels"]) == len(r["images"])
        assert (out / "pairs.png").read_bytes()[:4] == b"\x89PNG"
    assert (work / "plots/reconstruction/leakage.png").read_bytes()[:4] == b"\x89PNG"
    assert (work / "plots/reconstruction/leakage.csv").read_text().startswith("size,")
    assert not list((work / "checkpoints/reconstruct").glob("*.npz"))  # removed once the outputs are written
    profile = read_json(work / "metrics/data_profile.json")
    assert profile["splits"]["test"]["count"] == 300
    assert read_json(work / "metrics/data_validation.json")["success"] is True
    report = (work / "reports/report.html").read_text()
    assert report.count('src="data:image/png;base64,') >= 3 and "<script" not in report
    assert "Out-of-distribution detection" in report and "Training-data reconstruction" in report


def test_every_stage_logged_to_mlflow_and_the_model_is_a_candidate(workspace):
    import mlflow

    work, _, _ = workspace
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("netinv")
    runs = client.search_runs([experiment.experiment_id])
    by_name = {r.info.run_name: r for r in runs}
    assert set(by_name) == {"prepare", "train_classifier", "train_evaluator", "train_heldout", "export_onnx", "invert",
                            "distill", "validate_samples", "ood", "reconstruct", "report"}
    assert "size_30.leakage_gap" in by_name["reconstruct"].data.metrics
    assert "fidelity" in by_name["invert"].data.metrics
    assert by_name["train_classifier"].data.metrics["test_accuracy"] > 0.3
    assert by_name["train_classifier"].data.params["classifier.epochs"] == "3"
    assert by_name["export_onnx"].data.metrics["argmax_agreement"] == 1.0
    assert all(r.info.status == "FINISHED" for r in runs)
    assert len({r.data.tags["netinv.repro"] for r in runs}) == 1  # one `dvc repro`, one group
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    version = client.get_model_version_by_alias("netinv-classifier", "candidate")
    assert version.run_id == by_name["export_onnx"].info.run_id
    assert len(json.loads(version.tags["class_names"])) == 10 and version.description
    mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")  # models:/ URIs resolve in the global store
    signature = mlflow.models.get_model_info(f"models:/netinv-classifier/{version.version}").signature
    assert signature.inputs.inputs[0].shape == (-1, 1, 28, 28) and signature.outputs.inputs[0].shape == (-1, 10)
    logged = {stage: client.get_logged_model(by_name[stage].outputs.model_outputs[0].model_id).name
              for stage in ("train_classifier", "invert", "ood")}
    assert logged == {"train_classifier": "pytorch", "invert": "generator", "ood": "ood_detector"}
    inputs = by_name["train_classifier"].inputs.dataset_inputs
    assert {i.dataset.name for i in inputs} == {"fashion_mnist-train", "fashion_mnist-val", "fashion_mnist-test"}


def test_ood_score_command_on_a_real_format_file(workspace):
    work, env, _ = workspace
    with np.load(work / "data/prepared/test.npz") as test:
        np.savez(work / "to_score.npz", images=test["images"][:30, 0])  # N×H×W
    run([sys.executable, "-m", "stages.ood", "score", "to_score.npz", "scores.npz"], work, env)
    with np.load(work / "scores.npz") as scores:
        assert {"garbage", "msp", "knn", "vim"} <= set(scores.files)
        assert all(scores[m].shape == (30,) for m in scores.files)
    (work / "to_score.npz").unlink()
    (work / "scores.npz").unlink()


def test_dvc_views_stay_readable(workspace):
    """What people type after a run: `dvc metrics show` (the stages' summaries only, each under 160
    columns), `dvc dag` (the pipeline without the ablation), `dvc plots show` (every plot loads)."""
    work, env, _ = workspace
    summaries = sorted((work / "metrics/summary").glob("*.json"))
    assert {p.stem for p in summaries} == {"data", "classifier", "evaluator", "heldout", "onnx", "inversion",
                                           "distill", "validation", "ood", "reconstruction"}
    for path in summaries:
        rel = str(path.relative_to(work))
        lines = run(["dvc", "metrics", "show", rel], work, env).stdout.splitlines()
        assert len(lines) == 2 and max(map(len, lines)) <= 160, (rel, lines)
    everything = run(["dvc", "metrics", "show"], work, env).stdout.splitlines()
    assert len(everything) == 1 + len(summaries)  # a row per summary: the full files are outs, not metrics
    assert max(map(len, everything)) < 700  # every summary's columns side by side (the full files: 18,789)
    dag = run(["dvc", "dag"], work, env).stdout
    assert "cell@" not in dag and "mechanism" not in dag  # ablation/ is a DVC project of its own
    assert max(map(len, dag.splitlines())) <= 400  # the pipeline's 11 stages; with the ablation: 1,787
    shown = json.loads(run(["dvc", "plots", "show", "--json"], work, env).stdout)
    assert not shown.get("errors"), shown.get("errors")
    assert {"plots/ood/roc/mnist.csv", "reconstruction", "distillation", "outputs/inversion/overview.png",
            "plots/classifier/confusion.png"} <= set(shown["data"])


def test_unchanged_workspace_is_a_noop(workspace):
    work, env, _ = workspace
    again = run(["dvc", "repro"], work, env)
    assert "Data and pipelines are up to date" in again.stdout
    status = run(["dvc", "status", "dvc.yaml"], work, env)  # the default pipeline (the ablation is apart)
    assert "up to date" in status.stdout


def test_make_repro_promotes_the_candidate_so_that_make_audit_audits_the_champion(workspace):
    """`make repro` ends with `python -m pipeline promote`: the candidate audited and promoted
    (the first champion). The training flow then finds nothing to rerun nor to promote, and
    `python -m pipeline audit` (`make audit`) audits the champion."""
    import mlflow

    work, env, _ = workspace
    env = {**env, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120", "DO_NOT_TRACK": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    promoted = run([sys.executable, "-m", "pipeline", "promote"], work, env)
    assert json.loads(promoted.stdout)["promoted"] and "promoted: first champion" in promoted.stderr
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("netinv-classifier", "champion")
    assert champion.version == client.get_model_version_by_alias("netinv-classifier", "candidate").version
    assert {champion.tags[f"netinv.check.{c}"] for c in ("validation", "workspace", "audit")} == {"true"}
    run([sys.executable, "-m", "pipeline", "train"], work, env)
    parent = client.search_runs([client.get_experiment_by_name("netinv").experiment_id],
                                "tags.`netinv.stage` = 'pipeline'")[0]
    assert parent.info.status == "FINISHED" and parent.data.tags["stage.train_classifier"] == "up to date"
    assert len(parent.data.tags["dvc_lock_hash"]) == 64 and parent.data.metrics["classifier.test_accuracy"] > 0.3
    assert "already is the champion" in json.loads(parent.data.tags["promotion"])["reasons"][0]
    run([sys.executable, "-m", "pipeline", "audit"], work, env)
    audits = client.search_runs([client.get_experiment_by_name("audits").experiment_id],
                                order_by=["attributes.start_time ASC"])
    assert [r.data.tags["netinv.audit.model"] for r in audits] == ["models:/netinv-classifier@candidate",
                                                                   "models:/netinv-classifier@champion"]
    assert all(r.data.tags["verdict"] == "passed" and "fidelity" in r.data.metrics for r in audits)
    assert len(list((work / "reports/audits").glob("*/report.html"))) == 2


def test_experiment_with_a_param_override(workspace):
    work, env, _ = workspace
    run(["git", "add", "-A"], work, env)
    run(["git", "commit", "-qm", "baseline", "--allow-empty"], work, env)
    result = run(["dvc", "exp", "run", "-S", "classifier.epochs=1"], work, env)
    assert "Running stage 'train@classifier'" in result.stdout
    assert "Running stage 'train@evaluator'" not in result.stdout  # untouched by the change: not rerun
    shown = json.loads(run(["dvc", "exp", "show", "--json"], work, env).stdout)
    epochs = sorted(p["params.yaml"]["data"]["classifier"]["epochs"] for p in find_key(shown, "params"))
    assert epochs[0] == 1 and epochs[-1] == 3  # the experiment and the baseline, side by side


def find_key(tree: object, key: str) -> list:
    """Every value stored under `key` anywhere in a JSON tree."""
    if isinstance(tree, dict):
        found = [tree[key]] if key in tree else []
        return found + [v for item in tree.values() for v in find_key(item, key)]
    if isinstance(tree, list):
        return [v for item in tree for v in find_key(item, key)]
    return []


def test_mistyped_param_stops_the_stage_with_the_valid_keys(workspace):
    work, env, _ = workspace
    params = work / "params.yaml"
    original = params.read_text()
    try:
        params.write_text(original.replace("  epochs:", "  epocs:", 1))
        result = run(["dvc", "repro", "train@classifier"], work, env, check=False)
        assert result.returncode != 0
        assert "unknown key 'classifier.epocs'" in result.stderr + result.stdout
        assert "valid keys here:" in result.stderr + result.stdout
    finally:
        params.write_text(original)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_mlflow_ui_serves_the_runs(workspace):
    """What `make ui` starts: a real MLflow server on the project's store, queried over HTTP."""
    import time
    import urllib.request

    import mlflow

    work, env, _ = workspace
    port = free_port()
    server = subprocess.Popen(
        ["mlflow", "ui", "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"], cwd=work, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError("mlflow ui did not become healthy within 120 s") from None
                time.sleep(1)
        client = mlflow.MlflowClient(tracking_uri=f"http://127.0.0.1:{port}")
        runs = client.search_runs([client.get_experiment_by_name("netinv").experiment_id])
        assert {"prepare", "train_classifier", "export_onnx"} <= {r.info.run_name for r in runs}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert b"<html" in page.read(2000).lower()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_ablation_pipeline_fills_every_cell(workspace):
    work, env, _ = workspace
    run(["dvc", "--cd", "ablation", "repro"], work, env)  # a DVC project of its own
    ablation = read_json(work / "metrics/inversion_ablation.json")
    cells = {(c["mode"], c["diversity"]) for c in ablation["cells"]}
    assert cells == {(m, d) for m in ("label", "vector", "matrix", "vector_matrix")
                     for d in ("none", "cosine", "orthogonality", "both")}
    assert all(0 <= c["eval_agreement"] <= 1 and 0 <= c["coverage"] <= 1 for c in ablation["cells"])
    assert all(0 <= c["eval_agreement_heldout"] <= 1 for c in ablation["cells"])  # both judges, in every row
    assert all(0 <= c["student_accuracy_samples"] <= 1 for c in ablation["cells"])
    assert (work / "plots/inversion_ablation.png").read_bytes()[:4] == b"\x89PNG"
