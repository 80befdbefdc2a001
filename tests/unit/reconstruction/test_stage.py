"""The `reconstruct` stage on tiny real files: outputs of the contract, and a failed run's finished sizes reused."""

import json
import logging

import numpy as np
import pytest

from netinv.data import ImageDataset
from netinv.models import build_model, save_model
from netinv.splits import channel_stats, save_prepared
from stages import reconstruct

PARAMS = """seed: 0
reconstruct:
  sizes: {sizes}
  target: {{channels: [4], hidden: 8, train_steps: 4, batch_size: 16}}
  per_class: 2
  recon_steps: 2
  latent_dim: 4
  width: 4
  bootstrap: 100
  control_split: {control_split}
  positive_control: {{per_class: 2, width: 16, epochs: 20, attack: {{steps: 5}}}}
  audited_model: {{pool_per_class: 4, candidates_per_class: 2, attack: {{steps: 3}}}}
  device: cpu
"""


@pytest.fixture
def prepared(tmp_path, blobs):
    images, labels = blobs
    names = ("top", "middle", "bottom")
    mean, std = channel_stats(images)
    meta = {"class_names": list(names), "image_shape": [1, 12, 12], "dataset": "blobs", "source": "test",
            "mean": mean, "std": std}
    save_prepared(tmp_path / "prepared", ImageDataset(images[:480], labels[:480], names, "t"),
                  ImageDataset(images[480:540], labels[480:540], names, "t"),
                  ImageDataset(images[540:], labels[540:], names, "t"), meta)
    return tmp_path / "prepared"


def argv(tmp_path, prepared, sizes, control_split="test"):
    params = tmp_path / "params.yaml"
    params.write_text(PARAMS.format(sizes=sizes, control_split=control_split))
    return ["--params", str(params), "--data", str(prepared), "--outputs", str(tmp_path / "out"),
            "--metrics", str(tmp_path / "metrics.json"), "--plots", str(tmp_path / "plots"),
            "--checkpoint", str(tmp_path / "ckpt")]


def classifier(tmp_path):
    """A small untrained CNN saved as the audited model: the stage only needs something to attack."""
    save_model(tmp_path / "classifier.pt", build_model("cnn", in_channels=1, image_size=(12, 12), num_classes=3,
                                                       channels=(4,), hidden=8))
    return ["--classifier", str(tmp_path / "classifier.pt")]


@pytest.mark.slow  # about 15 s alone, most of it MLflow creating its database
def test_a_failed_run_keeps_finished_sizes_and_the_rerun_reuses_them(tmp_path, prepared, monkeypatch, caplog,
                                                                     one_thread):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(ValueError, match="unused images of class"):  # 300 + 300 > 160 per class
        reconstruct.main(argv(tmp_path, prepared, "[12, 900]"))
    assert (tmp_path / "ckpt" / "12.npz").is_file()
    with caplog.at_level(logging.INFO, logger="stages.reconstruct"):
        reconstruct.main(argv(tmp_path, prepared, "[12, 24]") + classifier(tmp_path))
    assert "size 12: reusing the finished result" in caplog.text
    assert "size 24: reusing" not in caplog.text
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) == {"12", "24", "positive_control", "audited_model"}
    assert metrics["24"]["control_split"] == "train"
    for name, size in (("positive_control", 6), ("audited_model", 12)):
        entry = metrics[name]
        for key in ("recovered_frac_train", "recovered_frac_control", "recovered_threshold", "leakage_gap",
                    "gap_ci_low", "gap_ci_high", "ssim_train_mean", "ssim_control_mean", "matched_frac_train"):
            assert np.isfinite(entry[key]), (name, key)
        assert entry["method"] == "kkt" and entry["control_split"] == "test" and entry["size"] == size
        assert entry["recovered_ci_low"] <= entry["recovered_gap"] <= entry["recovered_ci_high"]
        assert entry["verdict"].endswith(".") and "95% CI" in entry["verdict"]
        out = tmp_path / "out" / name
        train, control = np.load(out / "train_indices.npy"), np.load(out / "control_indices.npy")
        assert len(train) == len(control) == size
        with np.load(out / "reconstructions.npz") as r:
            assert r["images"].dtype == np.uint8 and r["images"].shape[1:] == (1, 12, 12)
            assert r["labels"].dtype == np.int64
        assert (out / "recovery.png").read_bytes()[:4] == b"\x89PNG"
    assert len(np.load(tmp_path / "out" / "positive_control" / "reconstructions.npz")["images"]) == 12  # 2 per image
    for size in (12, 24):
        out = tmp_path / "out" / str(size)
        train, control = np.load(out / "train_indices.npy"), np.load(out / "control_indices.npy")
        assert len(train) == len(control) == size and not set(train) & set(control)
        with np.load(out / "reconstructions.npz") as r:
            assert r["images"].dtype == np.uint8 and r["images"].shape == (6, 1, 12, 12)
            assert r["labels"].tolist() == [0, 0, 1, 1, 2, 2]
        assert (out / "pairs.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "plots" / "leakage.csv").read_text().startswith("size,")
    assert not list((tmp_path / "ckpt").glob("*.npz"))
