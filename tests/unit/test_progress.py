"""Progress bars only on a terminal; a few log lines elsewhere (netinv.progress)."""

from __future__ import annotations

import io
import logging
import os

import pytest

from netinv.progress import on_terminal, progress, quiet_off_terminal


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def captured():
    """The `netinv.progress` log lines, written to the same kind of stream the loop was given."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("netinv.progress")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_off_a_terminal_no_redraws_and_a_bounded_number_of_lines(captured):
    bar = progress(range(1000), "inversion", stream=captured)
    for step in bar:
        bar.set_postfix(loss=f"{1 / (step + 1):.3f}", fidelity="0.90")
    text = captured.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert 1 <= len(lines) <= 10
    assert lines[-1].startswith("inversion: 1000/1000 (100%) loss=0.001 fidelity=0.90")
    assert all("fid=" not in line for line in lines)


def test_off_a_terminal_lines_for_short_and_resumed_loops(captured):
    for _ in progress(range(3), "short", stream=captured):
        pass
    assert captured.getvalue().splitlines()[-1].startswith("short: 3/3 (100%)")
    captured.truncate(0), captured.seek(0)
    for _ in progress(range(500, 1000), "resumed", initial=500, total=1000, stream=captured):
        pass
    lines = captured.getvalue().splitlines()
    assert len(lines) == 5 and lines[0].startswith("resumed: 600/1000 (60%)")


def test_lines_zero_and_disabled_write_nothing(captured):
    for enabled, lines in ((True, 0), (False, 10)):
        assert list(progress(range(50), "quiet", enabled=enabled, lines=lines, stream=captured)) == list(range(50))
    assert captured.getvalue() == ""


def test_a_terminal_gets_the_tqdm_bar(captured):
    terminal = Terminal()
    bar = progress(range(20), "epoch 1/2", stream=terminal)
    for _ in bar:
        bar.set_postfix(loss="0.5")
    assert "\r" in terminal.getvalue() and "epoch 1/2" in terminal.getvalue()
    assert captured.getvalue() == ""  # the bar, not log lines


def test_on_terminal_copes_with_odd_streams():
    assert not on_terminal(io.StringIO())
    assert on_terminal(Terminal())
    closed = io.StringIO()
    closed.close()
    assert not on_terminal(closed)
    assert not on_terminal(object())  # type: ignore[arg-type]


def test_mlflow_artifact_bars_are_switched_off_only_off_a_terminal(monkeypatch):
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    assert not quiet_off_terminal(Terminal())
    assert "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" not in os.environ
    assert quiet_off_terminal(io.StringIO())
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    assert MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get() is False
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")  # the environment's choice wins
    quiet_off_terminal(io.StringIO())
    assert MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get() is True
