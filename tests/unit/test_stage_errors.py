"""What a user sees when a stage meets bad input: one line naming the problem, exit 1."""

from pathlib import Path

import pytest

from stages import prepare, runner, train


def write_params(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def run_stage(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        runner.run(main, argv)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_missing_dataset_directory_names_it_and_the_fix(tmp_path, capsys):
    params = write_params(tmp_path, f"data:\n  name: fashion_mnist\n  root: {tmp_path / 'nowhere'}\n")
    err = run_stage(prepare.main, ["--params", str(params), "--out", str(tmp_path / "p"),
                                   "--profile", str(tmp_path / "a.json"), "--validation", str(tmp_path / "b.json")],
                    capsys)
    assert str(tmp_path / "nowhere") in err and "apt-get install dataset-fashion-mnist" in err
    assert not (tmp_path / "p").exists()  # nothing half-written


def test_corrupt_npz_dataset(tmp_path, capsys):
    (tmp_path / "data.npz").write_bytes(b"PK\x03\x04 truncated")
    params = write_params(tmp_path, f"data:\n  name: npz\n  root: {tmp_path / 'data.npz'}\n")
    err = run_stage(prepare.main, ["--params", str(params), "--out", str(tmp_path / "p"),
                                   "--profile", str(tmp_path / "a.json"), "--validation", str(tmp_path / "b.json")],
                    capsys)
    assert "data.npz" in err


def test_train_without_prepared_data_says_which_stage_to_run(tmp_path, capsys):
    params = write_params(tmp_path, "seed: 0\n")
    err = run_stage(train.main, ["classifier", "--params", str(params), "--data", str(tmp_path / "none"),
                                 "--model", str(tmp_path / "m.pt"), "--metrics", str(tmp_path / "m.json"),
                                 "--plots", str(tmp_path / "plots")], capsys)
    assert "dvc repro prepare" in err


def test_mistyped_param_fails_the_stage(tmp_path, capsys):
    params = write_params(tmp_path, "classifier:\n  epoch: 3\n")
    err = run_stage(train.main, ["classifier", "--params", str(params), "--data", str(tmp_path),
                                 "--model", str(tmp_path / "m.pt"), "--metrics", str(tmp_path / "m.json"),
                                 "--plots", str(tmp_path / "plots")], capsys)
    assert "unknown key 'classifier.epoch'" in err and "epochs" in err


def test_unreachable_tracking_server_stops_the_stage_before_any_work(tmp_path, capsys, monkeypatch):
    import socket
    import time

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    err = run_stage(train.main, ["classifier", "--data", str(tmp_path / "none"), "--model", str(tmp_path / "m.pt"),
                                 "--metrics", str(tmp_path / "m.json"), "--plots", str(tmp_path / "plots")], capsys)
    assert time.monotonic() - started < 30
    assert f"cannot reach the MLflow tracking server at http://127.0.0.1:{port}" in err
    assert "unset MLFLOW_TRACKING_URI" in err
    assert "dvc repro prepare" not in err  # it stopped before looking at the data


def test_core_field_is_translated_to_the_params_key():
    from netinv.errors import ConfigError, TrainingDivergedError

    diverged = TrainingDivergedError("loss became nan; lower the learning rate lr (now 0.01)", field="lr",
                                     config="InversionConfig")
    assert runner.explain(diverged, "invert") == (
        "loss became nan; lower the learning rate lr (now 0.01) (set invert.lr in params.yaml)")
    # a stage with several core configs names the section of the one that failed
    assert "(set invert.lr in params.yaml)" in runner.explain(diverged, {"InversionConfig": "invert", "": "ood"})
    garbage = TrainingDivergedError("garbage-model loss became nan", field="lr", config="GarbageConfig")
    assert "(set ood.lr in params.yaml)" in runner.explain(garbage, {"InversionConfig": "invert", "": "ood"})
    target = TrainingDivergedError("training loss became nan", field="lr", config="TrainConfig")
    assert "(set reconstruct.target.lr in params.yaml)" in runner.explain(target, {"TrainConfig": "reconstruct.target"})
    device = ConfigError("CUDA is not available", field="device")
    assert runner.explain(device, "evaluator").endswith("(set evaluator.device in params.yaml)")


def test_dataset_fields_map_to_the_data_section_whatever_the_stage():
    from netinv.data import DatasetError

    assert runner.explain(DatasetError("no folder", field="root"), "invert").endswith("(set data.root in params.yaml)")
    assert runner.explain(DatasetError("unknown", field="name"), None).endswith("(set data.name in params.yaml)")


def test_no_key_is_named_where_params_yaml_has_none():
    from netinv.errors import ConfigError, NetinvError

    assert runner.explain(ConfigError("k too large", field="knn_k"), "audit") == "k too large"  # audit.knn_k: no key
    assert runner.explain(ConfigError("bad", field="lr"), None) == "bad"  # no section given
    assert runner.explain(NetinvError("plain")) == "plain"
    assert runner.explain(ValueError("not ours"), "invert") == "not ours"


def test_missing_outputs_of_earlier_stages_name_dvc_repro():
    from netinv.data import DatasetError
    from netinv.errors import ModelFileError

    prepared = runner.explain(DatasetError("meta.json is missing", rebuild=True), "classifier")
    assert prepared.endswith("(run `dvc repro`, or `dvc repro prepare` for just the prepared data)")
    model = runner.explain(ModelFileError("model file m.pt does not exist: train it first", rebuild=True), "invert")
    assert "run `dvc repro`" in model and "dvc repro STAGE" in model
    assert "dvc" not in runner.explain(ModelFileError("m.pt names unknown architecture 'x'"), "invert")


def test_core_errors_keep_their_builtin_bases_and_pickle():
    import pickle

    from netinv.errors import ConfigError, DatasetError, TrainingDivergedError

    assert isinstance(DatasetError("x"), ValueError) and isinstance(ConfigError("x"), ValueError)
    assert isinstance(TrainingDivergedError("x"), RuntimeError)
    copy = pickle.loads(pickle.dumps(TrainingDivergedError("boom", field="lr", config="InversionConfig")))
    assert (str(copy), copy.field, copy.config, copy.rebuild) == ("boom", "lr", "InversionConfig", False)
