"""End to end: a real Prefect server and MLflow server on loopback, the audit deployment served
with a short interval, a completed flow run, its MLflow run and report, the report in Chromium."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} did not become healthy at {url} (exit code {process.poll()})")
        time.sleep(1)


def completed_runs(api: str, deployment: str) -> list[dict]:
    body = json.dumps({"flow_runs": {"state": {"type": {"any_": ["COMPLETED", "FAILED", "CRASHED"]}}},
                       "deployments": {"name": {"any_": [deployment]}}}).encode()
    request = urllib.request.Request(f"{api}/flow_runs/filter", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def servers(tmp_path, audit_project):
    processes: list[subprocess.Popen] = []
    prefect_port, mlflow_port = free_port(), free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false", "DO_NOT_TRACK": "1",
           "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}", "MLFLOW_DISABLE_TELEMETRY": "true",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1"}
    env.pop("NETINV_MLFLOW_PARENT_RUN_ID", None)
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name: str, cmd: list[str], cwd: Path) -> subprocess.Popen:
        out = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    try:
        prefect = start("prefect", ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(prefect_port)],
                        tmp_path)
        mlflow = start("mlflow", ["mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
                                  "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1",
                                  "--port", str(mlflow_port), "--workers", "1"], tmp_path)
        wait_healthy(f"http://127.0.0.1:{prefect_port}/api/health", prefect, "prefect server")
        wait_healthy(f"http://127.0.0.1:{mlflow_port}/health", mlflow, "mlflow server")
        yield env, start, logs
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def register_champion(project: Path, uri: str) -> str:
    import mlflow
    import onnx

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("netinv")
    with mlflow.start_run():
        info = mlflow.onnx.log_model(onnx.load(str(project / "models/classifier.onnx")), name="onnx",
                                     registered_model_name="netinv-classifier")
    mlflow.MlflowClient(uri).set_registered_model_alias("netinv-classifier", "champion",
                                                        info.registered_model_version)
    return str(info.registered_model_version)


def test_served_audit_runs_on_schedule_and_reports(servers, audit_project, tmp_path):
    import mlflow

    env, start, logs = servers
    version = register_champion(audit_project, env["MLFLOW_TRACKING_URI"])
    serve = start("serve", [sys.executable, "-m", "pipeline", "serve", "--audit-only", "--audit-interval", "30",
                            "--audit-profile", "tiny"], audit_project)
    api = env["PREFECT_API_URL"]
    deadline = time.monotonic() + 420
    runs: list[dict] = []
    while not runs:
        if serve.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no finished audit flow run; serve log:\n{(logs / 'serve.log').read_text()[-4000:]}")
        time.sleep(5)
        runs = completed_runs(api, "nightly-audit")
    assert runs[0]["state_type"] == "COMPLETED", runs[0]["state"]["message"]

    client = mlflow.MlflowClient(env["MLFLOW_TRACKING_URI"])
    audits = client.search_runs([client.get_experiment_by_name("audits").experiment_id])
    run = next(r for r in audits if r.data.tags.get("prefect.flow_run_id") == runs[0]["id"])
    assert run.data.tags["model_version"] == version and run.data.tags["verdict"] == "passed"
    assert 0 <= run.data.metrics["fidelity"] <= 1 and "eval_agreement" in run.data.metrics
    report = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="report.html",
                                                      dst_path=str(tmp_path / "download"), tracking_uri=env["MLFLOW_TRACKING_URI"]))
    assert "data:image/png;base64," in report.read_text()
    check_in_chromium(report, tmp_path / "report.png")


def check_in_chromium(page: Path, screenshot: Path) -> None:
    """Open the page in headless Chromium: a screenshot is taken and the console stays silent."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("chromium is not installed: `make setup` installs the Debian package chromium")
    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                             "--window-size=1200,1600", f"--screenshot={screenshot}", "--enable-logging=stderr",
                             "--v=0", page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert result.returncode == 0, result.stderr[-2000:]
    assert not console, console
    assert screenshot.read_bytes()[:4] == b"\x89PNG" and screenshot.stat().st_size > 10_000
