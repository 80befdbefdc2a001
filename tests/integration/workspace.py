"""Helpers of the integration tests: commands with readable failures, project copies."""

from __future__ import annotations

import subprocess
from pathlib import Path

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
