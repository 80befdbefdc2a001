"""Real workspaces for the integration tests: a copy of the project in a fresh git + DVC repo."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.workspace import FASHION, Workspace, project_files, run


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
        # the project's DVC settings: plot templates and the offline page (.dvc/plots, .dvc/config)
        shutil.copytree(root / ".dvc" / "plots", work / ".dvc" / "plots")
        shutil.copy2(root / ".dvc" / "config", work / ".dvc" / "config")
        run([sys.executable, "-m", "stages.profile", "tiny"], work, env)
        run(["git", "add", "-A"], work, env)
        run(["git", "commit", "-qm", "tiny"], work, env)
        return work, env

    return make


@pytest.fixture(scope="session")
def inverted(new_workspace) -> Workspace:
    """A tiny workspace reproduced up to `invert`, shared by the fault and scale-out tests
    (each writes only under its own paths or restores what it changes)."""
    work, env = new_workspace("inverted")
    run(["dvc", "repro", "invert"], work, env)
    return work, env
