"""Real workspaces for the integration tests: a copy of the project in a fresh git + DVC repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
SKIP_PREFIXES = ("metrics/", "plots/", "dvc.lock", ".dvc/", "tests/", "docs/")


def run(cmd: list[str], cwd: Path, env: dict[str, str], check: bool = True,
        timeout: float = 900) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def project_files(root: Path) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=root,
                            capture_output=True, text=True, check=True).stdout.split()
    return [f for f in listed if not f.startswith(SKIP_PREFIXES) and not f.endswith("dvc.lock")
            and (root / f).is_file()]


Workspace = tuple[Path, dict[str, str]]


@pytest.fixture(scope="session")
def new_workspace(tmp_path_factory, request) -> Callable[[str], Workspace]:
    """Make a fresh git + DVC copy of the project with the tiny profile applied and committed.

    The copy logs to its own SQLite MLflow store; nothing of the developer's workspace
    (outputs, dvc.lock, caches) travels with it.
    """
    if not FASHION.is_file():
        pytest.skip("Debian package dataset-fashion-mnist is not installed (make setup installs it)")
    root = Path(request.config.rootpath)

    def make(name: str) -> Workspace:
        work = tmp_path_factory.mktemp(name)
        for rel in project_files(root):
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, work / rel)
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "GIT_AUTHOR_NAME": "t",
               "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}
        env.pop("NETINV_MLFLOW_PARENT_RUN_ID", None)
        run(["git", "init", "-q"], work, env)
        run(["dvc", "init", "-q"], work, env)
        run([sys.executable, "-m", "stages.profile", "tiny"], work, env)
        run(["git", "add", "-A"], work, env)
        run(["git", "commit", "-qm", "tiny"], work, env)
        return work, env

    return make


@pytest.fixture(scope="session")
def sh() -> Callable[..., subprocess.CompletedProcess]:
    """`run` as a fixture: test modules here cannot import each other under importlib mode."""
    return run


@pytest.fixture(scope="session")
def inverted(new_workspace) -> Workspace:
    """A tiny workspace reproduced up to `invert`, shared by the fault and scale-out tests
    (each writes only under its own paths or restores what it changes)."""
    work, env = new_workspace("inverted")
    run(["dvc", "repro", "invert"], work, env)
    return work, env
