"""The OOD figures the report shows beside the tables: score histograms with the 95%-ID threshold,
and the OOD inputs a method accepts most confidently."""

from __future__ import annotations

import numpy as np

from netinv.atomic import save_figure
from netinv.ood.plots import accepted_ood_figure, id_threshold, score_histograms_figure


def test_score_histograms_one_panel_per_method_with_the_threshold(tmp_path):
    rng = np.random.default_rng(0)
    id_scores = {"energy": rng.normal(0, 1, 500), "garbage": rng.uniform(0, 0.2, 500)}
    ood_scores = {"mnist": {"energy": rng.normal(2, 1, 300), "garbage": rng.uniform(0, 1, 300)},
                  "noise": {"energy": rng.normal(5, 1, 300), "garbage": np.ones(300)}}
    fig = score_histograms_figure(id_scores, ood_scores, columns=4)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["energy", "garbage"]
    threshold = panels[0].lines[0].get_xdata()[0]
    assert threshold == id_threshold(id_scores["energy"]) and np.mean(id_scores["energy"] <= threshold) >= 0.95
    save_figure(tmp_path / "scores.png", fig)
    assert (tmp_path / "scores.png").read_bytes()[:4] == b"\x89PNG"


def test_accepted_ood_inputs_are_the_lowest_scored(tmp_path):
    rng = np.random.default_rng(1)
    images = {"mnist": rng.integers(0, 255, (20, 1, 8, 8), dtype=np.uint8),
              "rgb": rng.integers(0, 255, (5, 3, 8, 8), dtype=np.uint8)}
    scores = {"mnist": rng.permutation(np.arange(20) * 0.05 + 0.025), "rgb": np.array([3.0, 0.1, 2.0, 0.2, 5.0])}
    fig = accepted_ood_figure(images, scores, id_scores=np.linspace(0, 1, 101), method="garbage", per_set=6)
    rows = np.array(fig.axes).reshape(2, 6)
    assert [ax.get_title() for ax in rows[0]] == ["0.025", "0.075", "0.125", "0.175", "0.225", "0.275"]
    assert [ax.get_title() for ax in rows[1][:5]] == ["0.1", "0.2", "2", "3", "5"] and rows[1][5].get_title() == ""
    assert rows[0][0].get_ylabel() == "mnist\n95% accepted"  # 19 of 20 below the 95% ID quantile (0.95)
    save_figure(tmp_path / "accepted.png", fig)
