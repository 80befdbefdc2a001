import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from netinv.ood.detector import OodDetector
from netinv.ood.garbage_model import garbage_model_from
from netinv.ood.metrics import ood_metrics
from netinv.ood.posthoc import METHODS, fit_posthoc
from netinv.ood.sets import noise_images
from stages import ood, runner

CPU = torch.device("cpu")


@pytest.fixture
def detector_dir(tiny_classifier, blobs, tmp_path):
    images, labels = blobs
    torch.set_num_threads(1)
    posthoc = fit_posthoc(tiny_classifier, images, labels, METHODS, CPU, knn_k=10, vim_dim=8)
    detector = OodDetector(garbage_model_from(tiny_classifier), posthoc, ("a", "b", "c"), (1, 12, 12), CPU)
    detector.save(tmp_path / "detector")
    return tmp_path / "detector", detector


def test_posthoc_detectors_flag_noise_and_survive_a_save(detector_dir, blobs):
    directory, detector = detector_dir
    images = blobs[0][:100]
    noise = noise_images("uniform", 100, (1, 12, 12), seed=1)
    scores, noise_scores = detector.score(images), detector.score(noise)
    assert set(scores) == {"garbage", "garbage_ue", *METHODS}
    for method in ("mahalanobis", "knn", "vim"):
        assert ood_metrics(scores[method], noise_scores[method])["auroc"] > 0.9, method
    loaded = OodDetector.load(directory, CPU)
    again = loaded.score(images)
    for method, values in scores.items():
        np.testing.assert_allclose(again[method], values, rtol=1e-5, atol=1e-5, err_msg=method)


def test_score_command_writes_one_array_per_method(detector_dir, blobs, tmp_path):
    directory, _ = detector_dir
    images = np.concatenate([blobs[0][:20, 0], noise_images("gaussian", 5, (1, 12, 12), 0)[:, 0]])  # N×H×W
    np.savez(tmp_path / "images.npz", images=images)
    runner.run(ood.main, ["score", str(tmp_path / "images.npz"), str(tmp_path / "scores.npz"),
                          "--detector", str(directory), "--device", "cpu"])
    with np.load(tmp_path / "scores.npz") as scores:
        assert set(scores.files) == {"garbage", "garbage_ue", *METHODS}
        assert all(scores[m].shape == (25,) and np.isfinite(scores[m]).all() for m in scores.files)
        assert scores["knn"][20:].mean() > scores["knn"][:20].max()  # the noise rows score as OOD


@pytest.mark.slow
def test_score_command_runs_as_a_module(detector_dir, blobs, tmp_path, project_root):
    """The real command line, in a fresh interpreter (slow: imports torch and pytorch-ood)."""
    directory, _ = detector_dir
    np.savez(tmp_path / "images.npz", images=blobs[0][:25])
    env = {**os.environ, "PYTHONPATH": str(project_root), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "stages.ood", "score", str(tmp_path / "images.npz"),
                           str(tmp_path / "scores.npz"), "--detector", str(directory), "--device", "cpu"],
                          cwd=project_root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with np.load(tmp_path / "scores.npz") as scores:
        assert set(scores.files) == {"garbage", "garbage_ue", *METHODS}
        assert all(scores[m].shape == (25,) and np.isfinite(scores[m]).all() for m in scores.files)


@pytest.mark.parametrize("content, message", [
    (b"not an npz", "corrupt or not a .npz file"),
    ("pixels", "lacks ['images']"),
    ("float", "dtype float64; convert them to uint8"),
    ("missing", "does not exist"),
])
def test_score_command_explains_a_wrong_file(detector_dir, tmp_path, capsys, content, message):
    directory, _ = detector_dir
    path = tmp_path / "in.npz"
    if content == "pixels":
        np.savez(path, pixels=np.zeros((2, 12, 12), dtype=np.uint8))
    elif content == "float":
        np.savez(path, images=np.zeros((2, 12, 12)))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        runner.run(ood.main, ["score", str(path), str(tmp_path / "out.npz"), "--detector", str(directory)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert message in err and "error:" in err and "Traceback" not in err
    assert not (tmp_path / "out.npz").exists()


def test_score_command_explains_a_missing_detector(tmp_path, capsys):
    np.savez(tmp_path / "in.npz", images=np.zeros((2, 12, 12), dtype=np.uint8))
    with pytest.raises(SystemExit):
        runner.run(ood.main, ["score", str(tmp_path / "in.npz"), str(tmp_path / "out.npz"),
                              "--detector", str(tmp_path / "nothing")])
    assert "is not a saved OOD detector" in capsys.readouterr().err
