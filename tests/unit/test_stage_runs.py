"""A stage's MLflow run (issue 16), in a real SQLite tracking store: opened before the work and
ended with the stage's fate, shared by all stages of one `dvc repro`, in an experiment MLflow 3
shows as model development; the models the stages log (the registered ONNX export, the
generator, the OOD detector) with signatures, examples and class names."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from stages import runner
from stages.tracking import KIND, KIND_TAG, REPRO_ENV, REPRO_TAG, log_live, stage_run
from tests.unit.ood.test_scoring import detector_dir  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One SQLite store for the module (its migrations cost seconds); an experiment per test."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


@pytest.fixture
def tracked(store, monkeypatch, request, tmp_path) -> tuple[Path, str]:
    """params.yaml naming this test's own experiment, and the store as the tracking URI."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    for name in ("NETINV_MLFLOW_PARENT_RUN_ID", REPRO_ENV, "RANK"):
        monkeypatch.delenv(name, raising=False)
    experiment = request.node.name.replace("[", "_").replace("]", "")
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"mlflow": {"experiment": experiment}}))
    return params, experiment


def runs_of(store: str, experiment: str) -> list:
    import mlflow

    client = mlflow.MlflowClient(store)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


def test_a_crashing_stage_leaves_a_failed_run_that_started_before_its_work(tracked, store):
    import mlflow

    params, experiment = tracked
    began: list[float] = []

    def main(argv):
        began.append(time.time() * 1000)
        time.sleep(0.4)  # the stage's work
        raise RuntimeError("a bug in the stage")

    with pytest.raises(RuntimeError, match="a bug in the stage"):
        runner.run(main, ["--params", str(params)], stage="crashing")
    [run] = runs_of(store, experiment)
    assert run.info.run_name == "crashing" and run.info.status == "FAILED"
    assert run.info.start_time <= began[0] and run.info.end_time - run.info.start_time >= 400
    assert run.data.tags["netinv.stage"] == "crashing" and run.data.tags[REPRO_TAG]
    tags = mlflow.MlflowClient(store).get_experiment_by_name(experiment).tags
    assert tags[KIND_TAG] == KIND == "custom_model_development"  # MLflow 3's UI: the ML view, not GenAI


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_stage_leaves_a_killed_run(tracked, store, how):
    params, experiment = tracked

    def main(argv):
        if how == "ctrl-c":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this
        raise AssertionError("SIGTERM did not stop the stage")

    with pytest.raises(KeyboardInterrupt if how == "ctrl-c" else SystemExit) as stopped:
        runner.run(main, ["--params", str(params)], stage="interrupted")
    if how == "sigterm":
        assert stopped.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler lives only as long as the run
    [run] = runs_of(store, experiment)
    assert run.info.status == "KILLED"


def test_the_stage_logs_into_the_run_the_runner_opened_live_and_at_its_end(tracked, store):
    params, experiment = tracked

    def main(argv):
        for epoch in range(3):
            assert log_live({"loss": 1.0 / (epoch + 1)}, epoch)  # while the stage works
        with stage_run("steady", experiment, {"section": {"lr": 0.1}}) as mlflow:
            mlflow.log_metric("test_accuracy", 0.9)

    runner.run(main, ["--params", str(params)], stage="steady")
    [run] = runs_of(store, experiment)  # one run: the stage's own, not a second at its end
    assert run.info.status == "FINISHED" and run.data.params == {"section.lr": "0.1"}
    assert run.data.metrics == {"loss": pytest.approx(1 / 3), "test_accuracy": 0.9}
    assert not log_live({"loss": 0.0}, 9)  # no stage run open any more


STAGE = """
import sys
from pathlib import Path
from stages import runner
from stages.tracking import stage_run

def main(argv):
    with stage_run(sys.argv[1], "grouped", {}) as mlflow:
        mlflow.log_metric("done", 1.0)
    Path(sys.argv[1] + ".out").write_text("done")

runner.run(main, [], stage=sys.argv[1])
"""


def test_the_stages_of_one_repro_share_a_tag_that_the_next_repro_does_not(store, tmp_path, project_root):
    """Real `dvc repro`s: DVC starts each stage as a child of its own process, which names the repro."""
    env = {k: v for k, v in os.environ.items() if k not in ("NETINV_MLFLOW_PARENT_RUN_ID", REPRO_ENV)}
    env.update(MLFLOW_TRACKING_URI=store, PYTHONPATH=str(project_root), OMP_NUM_THREADS="1")
    (tmp_path / "stage.py").write_text(STAGE)
    (tmp_path / "params.yaml").write_text("mlflow: {experiment: grouped}\n")
    python = sys.executable
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "first": {"cmd": f"{python} stage.py first", "deps": ["stage.py"], "outs": ["first.out"]},
        "second": {"cmd": f"{python} stage.py second", "deps": ["first.out"], "outs": ["second.out"]}}}))

    def dvc(*args: str) -> None:
        done = subprocess.run(["dvc", *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    dvc("init", "--no-scm", "-q")
    dvc("repro")
    dvc("repro", "--force", "--single-item", "second")
    runs = sorted(runs_of(store, "grouped"), key=lambda r: r.info.start_time)
    assert [r.info.run_name for r in runs] == ["first", "second", "second"]
    assert all(r.info.status == "FINISHED" for r in runs)
    first, second, again = (r.data.tags[REPRO_TAG] for r in runs)
    assert first == second and first.startswith("dvc-")
    assert again != first and again.startswith("dvc-")
    assert runs[0].data.tags["netinv.dvc_stage"] == "first"


def test_the_export_registers_a_described_candidate_with_signature_and_class_names(
        audit_project, store, monkeypatch, tmp_path):
    import mlflow

    from stages import export_onnx

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.delenv("NETINV_MLFLOW_PARENT_RUN_ID", raising=False)
    onnx = tmp_path / "classifier.onnx"
    runner.run(export_onnx.main, ["--params", str(audit_project / "params.yaml"),
                                  "--model", str(audit_project / "models/classifier.pt"),
                                  "--data", str(audit_project / "data/prepared"), "--onnx", str(onnx),
                                  "--metrics", str(tmp_path / "onnx.json")], stage="export_onnx")
    client = mlflow.MlflowClient(store)
    version = client.get_model_version_by_alias("netinv-classifier", "candidate")
    [run] = runs_of(store, "netinv")
    assert version.run_id == run.info.run_id and run.info.status == "FINISHED"
    assert json.loads(version.tags["class_names"]) == ["top", "middle", "bottom"]
    assert version.tags["netinv.onnx_md5"] == hashlib.md5(onnx.read_bytes()).hexdigest()
    assert "parity with PyTorch" in version.description
    assert "@candidate" in client.get_registered_model("netinv-classifier").description
    info = mlflow.models.get_model_info(f"models:/netinv-classifier/{version.version}")
    [given] = info.signature.inputs.inputs
    assert given.type == np.dtype("float32") and given.shape == (-1, 1, 12, 12)
    assert info.signature.outputs.inputs[0].shape == (-1, 3)
    assert info.metadata["class_names"] == ["top", "middle", "bottom"]
    assert info.saved_input_example_info is not None


def test_the_generator_is_a_pyfunc_model_that_draws_images_of_the_asked_classes(tracked, store, tmp_path):
    import mlflow

    from netinv.config.inversion import GeneratorConfig
    from netinv.inversion.generator import ConditionedGenerator
    from netinv.models import save_model
    from stages import invert
    from stages.config import load_params

    _, experiment = tracked
    torch.manual_seed(0)
    generator = ConditionedGenerator(GeneratorConfig(num_classes=3, out_channels=1, image_size=(12, 12),
                                                     latent_dim=8, width=8, embed_dim=8)).eval()
    save_model(tmp_path / "generator.pt", generator)
    invert_params = load_params(Path(__file__).resolve().parents[2] / "params.yaml").invert
    with stage_run("invert", experiment, {}) as logging_to:
        invert.log_generator(logging_to, tmp_path / "generator.pt", generator, invert_params, ("a", "b", "c"))
    [run] = runs_of(store, experiment)
    model = mlflow.pyfunc.load_model(f"models:/{run.outputs.model_outputs[0].model_id}")
    signature = model.metadata.signature
    assert signature.inputs.input_names() == ["label"] and signature.outputs.inputs[0].shape == (-1, 1, 12, 12)
    assert {p.name for p in signature.params.params} == {"seed", "temperature", "dropout"}
    images = model.predict(pd.DataFrame({"label": [0, 2, 2]}), params={"seed": 1})
    assert images.dtype == np.uint8 and images.shape == (3, 1, 12, 12)
    assert model.metadata.metadata["class_names"] == ["a", "b", "c"]


def test_the_ood_detector_is_a_pyfunc_model_that_scores_like_the_detector(tracked, store, detector_dir, blobs):  # noqa: F811
    import mlflow

    from stages import ood

    _, experiment = tracked
    directory, detector = detector_dir
    with stage_run("ood", experiment, {}) as logging_to:
        ood.log_detector(logging_to, directory, detector, blobs[0][:8])
    [run] = runs_of(store, experiment)
    model = mlflow.pyfunc.load_model(f"models:/{run.outputs.model_outputs[0].model_id}")
    assert model.metadata.signature.inputs.inputs[0].shape == (-1, 1, 12, 12)
    scores = model.predict(blobs[0][:5])
    expected = detector.score(blobs[0][:5])
    assert list(scores.columns) == list(expected)
    for method, values in expected.items():
        np.testing.assert_allclose(scores[method], values, rtol=1e-5, atol=1e-5, err_msg=method)
