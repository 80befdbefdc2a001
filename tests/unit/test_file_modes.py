"""Atomically written outputs get a plain file's mode (0666 less the umask), not mkstemp's 0600."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from netinv import atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_umask_is_read_without_changing_it(umask_022):
    assert atomic.umask() == 0o022
    assert atomic.file_mode() == 0o644
    assert atomic.umask() == 0o022


def test_every_writer_leaves_0644_files_and_0755_directories(tmp_path, umask_022):
    out = tmp_path / "reports" / "run"  # directories made on the way
    atomic.write_text(out / "report.md", "x\n")
    atomic.write_json(out / "metrics.json", {"a": 1})
    atomic.write_csv(out / "rows.csv", [{"a": 1}])
    atomic.save_npz(out / "samples.npz", images=np.zeros((2, 2), np.uint8))
    atomic.save_npy(out / "array.npy", np.zeros(3))
    with atomic.atomic_path(out / "table.csv") as tmp:  # a writer that replaces the temporary file
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"a\n")
        os.close(fd)
    files = sorted(out.iterdir())
    assert [p.name for p in files] == ["array.npy", "metrics.json", "report.md", "rows.csv", "samples.npz",
                                       "table.csv"]
    assert {p.name: mode(p) for p in files} == {p.name: 0o644 for p in files}
    assert mode(out) == 0o755 and mode(out.parent) == 0o755


def test_a_replaced_0600_file_becomes_0644(tmp_path, umask_022):
    target = tmp_path / "params.yaml"
    target.write_text("old\n")
    target.chmod(0o600)  # as the previous writer left it
    atomic.write_text(target, "new\n")
    assert target.read_text() == "new\n" and mode(target) == 0o644


def test_a_stricter_umask_is_honoured(tmp_path):
    old = os.umask(0o077)
    try:
        atomic.write_text(tmp_path / "private" / "a.txt", "x")
    finally:
        os.umask(old)
    assert mode(tmp_path / "private" / "a.txt") == 0o600
    assert mode(tmp_path / "private") == 0o700
