"""The flow's stage list: read from dvc.yaml, foreach expanded, in an order DVC can run one by one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netinv.errors import NetinvError
from pipeline import dvc


def test_stage_names_match_dvc_and_upstream_comes_first(project_root):
    stages = dvc.pipeline_stages(project_root / "dvc.yaml")
    listed = subprocess.run(["dvc", "stage", "list", "--name-only"], cwd=project_root, capture_output=True,
                            text=True, check=True).stdout.split()
    assert sorted(s.name for s in stages) == sorted(listed)
    order = [s.name for s in stages]
    assert order.index("prepare") < order.index("train@classifier") < order.index("export_onnx")
    assert order.index("invert") < order.index("validate_samples") < order.index("report")
    assert order[-1] == "report"
    classifier = next(s for s in stages if s.name == "train@classifier")
    assert "models/classifier.pt" in classifier.outs and "metrics/classifier.json" in classifier.outs


def test_out_of_order_stages_are_sorted_and_cycles_refused(tmp_path):
    (tmp_path / "dvc.yaml").write_text("""
stages:
  report:
    cmd: cat a/x b/y > r
    deps: [a, b]
    outs: [r]
  make_b:
    foreach: [y, z]
    do:
      cmd: echo ${item} > b/${item}
      deps: [a/x]
      outs:
      - b/${item}
  make_a:
    cmd: mkdir -p a && echo 1 > a/x
    outs: [a/x]
""")
    order = [s.name for s in dvc.pipeline_stages(tmp_path / "dvc.yaml")]
    assert order == ["make_a", "make_b@y", "make_b@z", "report"]
    (tmp_path / "dvc.yaml").write_text("stages:\n  a: {cmd: x, deps: [q], outs: [p]}\n  b: {cmd: y, deps: [p], outs: [q]}\n")
    with pytest.raises(NetinvError, match="cycle"):
        dvc.pipeline_stages(tmp_path / "dvc.yaml")


def test_repro_streams_lines_and_raises_on_failure(tmp_path):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text(f"""
stages:
  ok:
    cmd: {sys.executable} -c "open('out.txt', 'w').write('hi'); print('hello from the stage')"
    outs: [out.txt]
  broken:
    cmd: {sys.executable} -c "import sys; print('about to fail'); sys.exit(3)"
""")
    seen: list[str] = []
    lines = dvc.repro_stage("ok", seen.append, cwd=tmp_path, env=env)
    assert "hello from the stage" in seen and lines == seen
    assert dvc.outcome("ok", lines) == "ran"
    again = dvc.repro_stage("ok", lambda _: None, cwd=tmp_path, env=env)
    assert dvc.outcome("ok", again) == "skipped"
    assert dvc.changed_stages(cwd=tmp_path) == {"broken"}
    with pytest.raises(dvc.StageFailed, match="about to fail") as failure:
        dvc.repro_stage("broken", lambda _: None, cwd=tmp_path, env=env)
    assert failure.value.returncode != 0 and failure.value.stage == "broken"
    assert dvc.lock_hash(Path(tmp_path) / "dvc.lock") is not None
