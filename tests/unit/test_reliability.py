"""Faults that once crashed, leaked or wasted work (issue 15), each injected for real: a server that
is not MLflow, credentials in the tracking URI, user mistakes, models of another shape, identical
weights saved twice, a writer killed mid-write."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from netinv.errors import ConfigError, DatasetError, ModelFileError
from stages import ood, prepare, runner, train
from tests.unit.test_stage_errors import run_stage, write_params


class NotMlflow(http.server.BaseHTTPRequestHandler):
    """A web server with a healthy /health and nothing of MLflow's REST API."""

    def do_GET(self) -> None:
        ok = self.path == "/health"
        body = b"OK" if ok else b"<html><body>Not Found</body></html>"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "text/plain" if ok else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_mlflow():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotMlflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def train_argv(tmp_path: Path) -> list[str]:
    return ["classifier", "--data", str(tmp_path / "none"), "--model", str(tmp_path / "m.pt"),
            "--metrics", str(tmp_path / "m.json"), "--plots", str(tmp_path / "plots")]


# --- case 1 and 3: the tracking store ----------------------------------------------------------

def test_a_server_that_answers_health_but_is_not_mlflow_stops_the_stage_before_any_work(
        tmp_path, capsys, monkeypatch, not_mlflow):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", not_mlflow)
    started = time.monotonic()
    err = run_stage(train.main, train_argv(tmp_path), capsys)
    assert time.monotonic() - started < 30
    assert f"the server at {not_mlflow} is not an MLflow tracking server" in err
    assert "unset MLFLOW_TRACKING_URI" in err and "dvc repro prepare" not in err  # stopped before the data
    assert not any(tmp_path.iterdir())


def test_credentials_in_the_tracking_uri_are_never_printed(tmp_path, capsys, monkeypatch):
    import socket

    from pipeline import tracking as tr
    from stages.tracking import auth_headers, public_uri, redact

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://alice:s3cret@127.0.0.1:{port}")
    err = run_stage(train.main, train_argv(tmp_path), capsys)
    assert f"cannot reach the MLflow tracking server at http://127.0.0.1:{port}" in err
    assert "s3cret" not in err and "alice" not in err
    assert redact("see http://alice:s3cret@host:5000/#/x and https://u:p@h") == "see http://***@host:5000/#/x and https://***@h"
    assert public_uri("http://alice:s3cret@host:5000/api") == "http://host:5000/api"
    assert auth_headers("http://alice:s3cret@host") == {"Authorization": "Basic YWxpY2U6czNjcmV0"}
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "s3cret")
    assert auth_headers("http://host") == {"Authorization": "Basic YWxpY2U6czNjcmV0"}
    assert tr.public_uri("http://alice:s3cret@host:5000") == "http://host:5000"  # what run_url links to


# --- case 4: user mistakes are one line; foreign errors keep their traceback ----------------------

def test_an_unknown_device_from_a_command_line_flag_is_a_user_error(tmp_path, capsys):
    err = run_stage(ood.main, ["score", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--device", "gpu"], capsys)
    assert "unknown device 'gpu'" in err and "cpu" in err
    from netinv.device import resolve_device

    with pytest.raises(ConfigError, match="unknown device 'gpu'"):
        resolve_device("gpu")


def test_a_npy_where_a_npz_is_expected_names_the_file(tmp_path, capsys):
    from netinv.ood.sets import load_image_file

    np.save(tmp_path / "images.npy", np.zeros((4, 12, 12), dtype=np.uint8))
    npy = tmp_path / "images.npy"
    with pytest.raises(DatasetError, match=r"images\.npy holds a single array .*not a \.npz file"):
        load_image_file(npy, (1, 12, 12))
    params = write_params(tmp_path, f"data:\n  name: npz\n  root: {npy}\n")
    err = run_stage(prepare.main, ["--params", str(params), "--out", str(tmp_path / "p"), "--profile",
                                   str(tmp_path / "a.json"), "--validation", str(tmp_path / "b.json")], capsys)
    assert "images.npy holds a single array" in err and "np.savez" in err
    assert not (tmp_path / "p").exists()


def test_a_model_file_with_config_keys_of_another_version_names_them(tmp_path):
    from netinv.models import build_model, load_model, save_model
    from netinv.models.io import read_checkpoint, serialise

    save_model(tmp_path / "m.pt", build_model("cnn", in_channels=1, image_size=(12, 12), num_classes=3,
                                              channels=(4,), hidden=8))
    payload = read_checkpoint(tmp_path / "m.pt")
    payload["config"]["kernel"] = 5
    (tmp_path / "other.pt").write_bytes(serialise(payload))
    with pytest.raises(ModelFileError, match=r"other\.pt has architecture config keys \['kernel'\]"):
        load_model(tmp_path / "other.pt")


def test_the_runner_hides_only_the_projects_own_errors():
    def numpy_bug(argv):
        np.zeros(2).reshape(3)  # a ValueError that is nobody's typo

    with pytest.raises(ValueError, match="cannot reshape"):
        runner.run(numpy_bug, [])

    def user_error(argv):
        raise ConfigError("bad")

    with pytest.raises(ConfigError):  # --debug shows the traceback of a user error too
        runner.run(user_error, ["--debug"])


# --- case 2: the input contract, .pt and ONNX alike ----------------------------------------------

def _cnn(channels: int, size: int):
    from netinv.models import build_model

    return build_model("cnn", in_channels=channels, image_size=(size, size), num_classes=3, channels=(4,), hidden=8,
                       mean=(0.5,) * channels, std=(0.25,) * channels)


def test_a_pt_model_for_three_channels_is_refused_on_one_channel_data(tmp_path):
    from netinv.export import check_input_contract
    from netinv.models import save_model

    model = _cnn(3, 12).eval()
    assert model(torch.rand(2, 1, 12, 12)).shape == (2, 3)  # Normalize broadcasts: no error of its own
    save_model(tmp_path / "rgb.pt", model)
    with pytest.raises(ModelFileError, match=r"rgb\.pt expects input \(N, 3, 12, 12\), but the data's images are "
                                             r"\(N, 1, 12, 12\)"):
        check_input_contract(model, (1, 12, 12), tmp_path / "rgb.pt")
    check_input_contract(model, (3, 12, 12), tmp_path / "rgb.pt", num_classes=3)
    with pytest.raises(ModelFileError, match="has 3 classes but the data has 10"):
        check_input_contract(model, (3, 12, 12), tmp_path / "rgb.pt", num_classes=10)


def test_an_onnx_model_with_symbolic_dims_is_probed_and_refused(tmp_path, blobs):
    import onnx

    from audit.config import AuditProfile
    from audit.model import resolve_model
    from netinv.data import ImageDataset
    from netinv.export import export_onnx
    from netinv.splits import Prepared

    path = tmp_path / "rgb16.onnx"
    export_onnx(_cnn(3, 16).eval(), (3, 16, 16), path)
    graph = onnx.load(str(path))
    for dim, name in zip(graph.graph.input[0].type.tensor_type.shape.dim[1:], "CHW", strict=True):
        dim.dim_param = name  # C, H, W left open: the declared shape proves nothing
    onnx.save(graph, str(path))
    images, labels = blobs
    part = ImageDataset(images[:30], labels[:30], ("a", "b", "c"), "blobs")
    data = Prepared(part, part, part, {"image_shape": [1, 12, 12], "class_names": ["a", "b", "c"]})
    with pytest.raises(ModelFileError, match=r"rgb16\.onnx expects input \(N, \?, \?, \?\), but the data's images "
                                             r"are \(N, 1, 12, 12\) \(a probe batch of that shape fails"):
        resolve_model(str(path), data, AuditProfile(), tmp_path)


# --- case 5: same weights, same bytes --------------------------------------------------------------

def test_the_same_weights_give_the_same_model_file_bytes(tmp_path):
    from netinv.models import load_model, save_model

    torch.manual_seed(0)
    model = _cnn(1, 12)
    save_model(tmp_path / "a.pt", model, meta={"role": "classifier"})
    save_model(tmp_path / "other_name.pt", model, meta={"role": "classifier"})
    save_model(tmp_path / "again.pt", load_model(tmp_path / "a.pt"), meta={"role": "classifier"})
    first = (tmp_path / "a.pt").read_bytes()
    assert (tmp_path / "other_name.pt").read_bytes() == first
    assert (tmp_path / "again.pt").read_bytes() == first


# --- case 6: a writer killed mid-write leaves nothing DVC could record -------------------------------

WRITER = """
import sys, time
from netinv.atomic import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_bytes(b"half")
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_sigkilled_write_leaves_no_temp_file_for_dvc_to_track(tmp_path, project_root):
    from netinv.atomic import write_text
    from stages import common

    out = tmp_path / "plots" / "classifier"  # a directory output
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out / "confusion.png")], cwd=project_root,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    leftovers = list(out.glob(".*.tmp"))
    assert len(leftovers) == 1 and not (out / "confusion.png").exists()

    parser = common.parser(None, plots="")  # a stage starting over sweeps its directories
    common.parse(parser, ["--plots", str(out), "--params", str(write_params(tmp_path, "seed: 0\n"))])
    assert not list(out.glob(".*.tmp"))

    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out / "training.csv")], cwd=project_root,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    write_text(out / "other.csv", "x\n")  # any later atomic write into the directory cleans up too
    assert sorted(p.name for p in out.iterdir()) == ["other.csv"]
