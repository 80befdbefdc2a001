"""Faults of issue 15 that need real servers or a real DVC workspace: the audit flow against a
tracking store that is down or not MLflow, an MLflow server with basic auth, a server that dies
after a stage wrote its outputs, and two `dvc repro` of disjoint stages at once."""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.integration.test_faults import _children, _cmdline, start, wait_for
from tests.integration.test_served_audit import free_port, wait_healthy
from tests.integration.workspace import run
from tests.unit.test_reliability import NotMlflow

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Kl4ngv0ll-Passwort!"


def env_with(**values: str) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MLFLOW_DISABLE_TELEMETRY": "true", **values}
    for name in ("NETINV_MLFLOW_PARENT_RUN_ID", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                 "NETINV_TRACEBACK"):
        if name not in values:
            env.pop(name, None)
    return env


def mlflow_server(tmp_path: Path, port: int, auth: bool) -> subprocess.Popen:
    cmd = ["mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--artifacts-destination",
           str(tmp_path / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    extra = {}
    if auth:
        ini = tmp_path / "auth.ini"
        ini.write_text(f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{tmp_path / 'auth.db'}\n"
                       f"admin_username = admin\nadmin_password = {PASSWORD}\n"
                       "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
        cmd += ["--app-name", "basic-auth"]
        extra = {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_FLASK_SERVER_SECRET_KEY": "netinv-test"}
    process = subprocess.Popen(cmd, cwd=tmp_path, env=env_with(**extra), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    wait_healthy(f"http://127.0.0.1:{port}/health", process, "mlflow server")
    return process


def stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@pytest.fixture
def not_mlflow():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotMlflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


# --- case 1: the audit flow checks the store before any work -------------------------------------

@pytest.mark.parametrize("store", ["down", "not_mlflow"])
def test_the_audit_flow_fails_in_seconds_and_writes_nothing_when_the_store_is_unusable(
        store, audit_project, not_mlflow, tmp_path):
    uri = "http://127.0.0.1:9" if store == "down" else not_mlflow
    reports = tmp_path / "reports"
    started = time.monotonic()
    result = run([sys.executable, "-m", "pipeline", "audit", "models/classifier.onnx", "--reports", str(reports)],
                 audit_project, env_with(MLFLOW_TRACKING_URI=uri), check=False, timeout=120)
    assert result.returncode == 1
    assert time.monotonic() - started < 30
    expected = "cannot reach the MLflow tracking server" if store == "down" else "is not an MLflow tracking server"
    assert expected in result.stderr and "unset MLFLOW_TRACKING_URI" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not reports.exists()


# --- case 3: an authenticated server works, and its password is never shown -----------------------

STAGE = """
from stages import runner
from stages.tracking import stage_run

def main(argv):
    with stage_run("probe", "netinv", {"a": 1}) as mlflow:
        mlflow.log_metric("x", 1.0)
    print("logged")

runner.run(main, [])
"""


def test_an_mlflow_server_with_basic_auth_is_reached_with_the_uris_or_the_environments_credentials(tmp_path):
    port = free_port()
    server = mlflow_server(tmp_path, port, auth=True)
    try:
        in_uri = run([sys.executable, "-c", STAGE], tmp_path, env_with(
            MLFLOW_TRACKING_URI=f"http://admin:{PASSWORD}@127.0.0.1:{port}"), check=False, timeout=120)
        assert in_uri.returncode == 0, in_uri.stderr[-2000:]
        assert "logged" in in_uri.stdout and PASSWORD not in in_uri.stdout + in_uri.stderr
        in_env = run([sys.executable, "-c", STAGE], tmp_path, env_with(
            MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}", MLFLOW_TRACKING_USERNAME="admin",
            MLFLOW_TRACKING_PASSWORD=PASSWORD), check=False, timeout=120)
        assert in_env.returncode == 0, in_env.stderr[-2000:]
        wrong = run([sys.executable, "-c", STAGE], tmp_path, env_with(
            MLFLOW_TRACKING_URI=f"http://admin:not-{PASSWORD}@127.0.0.1:{port}"), check=False, timeout=120)
        assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
        assert f"the MLflow tracking server at http://127.0.0.1:{port} refused the credentials" in wrong.stderr
        assert PASSWORD not in wrong.stderr + wrong.stdout

        import mlflow

        client = mlflow.MlflowClient(f"http://admin:{PASSWORD}@127.0.0.1:{port}")
        experiment = client.get_experiment_by_name("netinv")
        assert len(client.search_runs([experiment.experiment_id])) == 2  # one per authenticated run
    finally:
        stop(server)


# --- case 6: a server that dies after the outputs are written costs the run, not the outputs ------

LATE = """
import os, signal
from netinv.atomic import write_text
from stages import runner
from stages.tracking import stage_run

def main(argv):
    write_text("out/result.txt", "done\\n")
    os.killpg(int(os.environ["SERVER_PGID"]), signal.SIGKILL)  # the server dies mid-stage
    with stage_run("late", "netinv", {"a": 1}) as mlflow:
        mlflow.log_metric("x", 1.0)

runner.run(main, [], stage="late")  # as the stages run: the run opens before the work
"""


def test_a_server_dying_after_the_outputs_are_written_leaves_them_recorded_by_dvc(tmp_path):
    port = free_port()
    (tmp_path / "server").mkdir()
    server = mlflow_server(tmp_path / "server", port, auth=False)
    work = tmp_path / "work"
    work.mkdir()
    env = env_with(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}", SERVER_PGID=str(server.pid))
    try:
        (work / "stage.py").write_text(LATE)
        (work / "params.yaml").write_text("mlflow: {experiment: netinv}\n")
        run(["git", "init", "-q"], work, env)
        run(["dvc", "init", "-q"], work, env)
        run(["dvc", "stage", "add", "-n", "late", "-d", "stage.py", "-o", "out", "python stage.py"], work, env)
        result = run(["dvc", "repro", "late"], work, env, check=False, timeout=300)
    finally:
        stop(server)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "MLflow logging of stage late failed after its outputs were written" in result.stdout + result.stderr
    lock = yaml.safe_load((work / "dvc.lock").read_text())
    assert [o["path"] for o in lock["stages"]["late"]["outs"]] == ["out"]
    assert "changed" not in run(["dvc", "status", "late"], work, env).stdout
    import mlflow  # the server's store: the run opened before the work, and never learnt its end

    store = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'server' / 'mlflow.db'}")
    [late] = store.search_runs([store.get_experiment_by_name("netinv").experiment_id])
    assert late.info.run_name == "late" and late.info.status == "RUNNING"


# --- case 7: what the README says about concurrent repros ------------------------------------------

def test_two_repros_of_disjoint_stages_both_run_and_both_are_recorded(inverted):
    work, env = inverted
    readme = (ROOT / "README.md").read_text()
    assert "Repros of disjoint stages" in readme and "there is no lock on the whole workspace" in readme
    first = start(["dvc", "repro", "--force", "--single-item", "train@evaluator"], work, env)
    try:
        wait_for(lambda: any("stages.train" in _cmdline(p) for p in _children(first.pid)), 120,
                 "the first repro to start its stage")
        second = run(["dvc", "repro", "--force", "--single-item", "export_onnx"], work, env, check=False)
    finally:
        first.wait(timeout=600)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert first.returncode == 0, first.stdout.read() if first.stdout else ""
    status = run(["dvc", "status", "train@evaluator", "export_onnx"], work, env).stdout
    assert "changed" not in status, status
