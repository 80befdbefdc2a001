"""The flow's stage list: DVC's own stages (foreach expanded), ordered after `dvc dag`'s edges."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from netinv.errors import NetinvError
from pipeline import dvc

DVC = [sys.executable, "-m", "dvc"]  # the dvc of the interpreter running the tests, PATH or not


def dvc_repo(root: Path) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "config", "user.name", "t"], cwd=root, check=True)
    subprocess.run(["git", "config", "user.email", "t@x"], cwd=root, check=True)
    subprocess.run([*DVC, "init", "-q"], cwd=root, check=True)
    return root


def test_real_pipeline_runs_every_stage_after_its_upstream(project_root):
    order = [s.name for s in dvc.pipeline_stages(cwd=project_root)]
    expected = ["prepare", "train@classifier", "train@evaluator", "export_onnx", "invert", "distill",
                "validate_samples", "ood", "reconstruct", "report"]
    assert set(expected) <= set(order)
    listed = subprocess.run([*DVC, "stage", "list", "--name-only", "dvc.yaml"], cwd=project_root,
                            capture_output=True, text=True, check=True).stdout.split()
    assert sorted(order) == sorted(listed)  # only the root dvc.yaml: no ablation/dvc.yaml:cell@...
    dot = subprocess.run([*DVC, "dag", "--dot"], cwd=project_root, capture_output=True, text=True,
                         check=True).stdout
    edges = re.findall(r'"([^"]+)" -> "([^"]+)"', dot)
    assert ("train@classifier", "export_onnx") in edges
    for upstream, downstream in edges:
        if upstream in order and downstream in order:
            assert order.index(upstream) < order.index(downstream), (upstream, downstream)
    assert order.index("prepare") < order.index("train@classifier") < order.index("export_onnx")
    assert order.index("invert") < order.index("validate_samples") < order.index("report")
    assert order.index("invert") < order.index("distill")
    outs = dvc.stage_outputs(["train@classifier"], project_root / "dvc.lock")
    assert "models/classifier.pt" in outs and "metrics/classifier.json" in outs


def test_foreach_and_out_of_order_stages_in_a_real_dvc_repo(tmp_path):
    root = dvc_repo(tmp_path)
    (root / "dvc.yaml").write_text("""
stages:
  report:
    cmd: cat a/x b/y b/z > r
    deps: [a/x, b]
    outs: [r]
  make_b:
    foreach: [y, z]
    do:
      cmd: mkdir -p b && cat a/x > b/${item}
      deps: [a/x]
      outs:
      - b/${item}
  make_a:
    cmd: mkdir -p a && echo 1 > a/x
    outs: [a/x]
  alone:
    cmd: echo alone > alone.txt
    outs: [alone.txt]
""")
    (root / "sub").mkdir()
    (root / "sub" / "dvc.yaml").write_text("stages:\n  extra: {cmd: cat ../r, deps: [../r]}\n")
    order = [s.name for s in dvc.pipeline_stages(cwd=root)]
    # make_a before alone (both ready at once) and report before alone: DVC's listing order breaks ties
    assert order == ["make_a", "make_b@y", "make_b@z", "report", "alone"]
    assert [s.name for s in dvc.pipeline_stages("sub/dvc.yaml", cwd=root)] == ["sub/dvc.yaml:extra"]
    (root / "dvc.yaml").write_text("stages:\n  a: {cmd: x, deps: [q], outs: [p]}\n  b: {cmd: y, deps: [p], outs: [q]}\n")
    with pytest.raises(dvc.DvcError, match="both a dependency and an output"):
        dvc.pipeline_stages(cwd=root)


def test_errors_name_the_fix(tmp_path, monkeypatch):
    with pytest.raises(NetinvError, match="not in a DVC repository: run from the project root"):
        dvc.pipeline_stages(cwd=tmp_path)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(dvc.DvcError, match="make setup"):
        dvc.pipeline_stages(cwd=tmp_path)


def test_repro_streams_lines_and_raises_on_failure(tmp_path):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    dvc_repo(tmp_path)
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
    assert dvc.stage_outputs(["ok", "broken"], tmp_path / "dvc.lock") == ["out.txt"]
