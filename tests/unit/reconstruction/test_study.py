"""audit_size on tiny data: the subsets, the reconstructions, their matches and metrics; seeded; the leakage rows."""

import numpy as np
import pytest
import torch

from netinv.config.inversion import GeneratorConfig
from netinv.config.reconstruction import LeakageStudyConfig, ReconstructionConfig, TargetConfig
from netinv.data import ImageDataset
from netinv.reconstruction.study import LEAKAGE_COLUMNS, audit_size, leakage_rows
from netinv.splits import Prepared, channel_stats

CPU = torch.device("cpu")
NAMES = ("top", "middle", "bottom")
CONFIGS = {
    "target": TargetConfig(channels=(4,), hidden=8, train_steps=4, batch_size=16),
    "generator": GeneratorConfig(num_classes=3, out_channels=1, image_size=(12, 12), mode="label", latent_dim=4,
                                 width=4, dropout=0.0),
    "reconstruction": ReconstructionConfig(per_class=2, recon_steps=2, seed=123),  # the seed is replaced
}


@pytest.fixture
def data(blobs) -> Prepared:
    images, labels = blobs
    mean, std = channel_stats(images[:480])
    meta = {"class_names": list(NAMES), "image_shape": [1, 12, 12], "dataset": "blobs", "mean": mean, "std": std}
    split = {name: ImageDataset(images[rows], labels[rows], NAMES, "t")
             for name, rows in (("train", slice(0, 480)), ("val", slice(480, 540)), ("test", slice(540, 600)))}
    return Prepared(meta=meta, **split)


def run(data: Prepared, control: str = "train", size: int = 12, seed: int = 0) -> dict:
    study = LeakageStudyConfig(sizes=(size,), control=control, bootstrap=100)
    return audit_size(size, data, study=study, **CONFIGS, seed=seed, device=CPU)


def test_one_size_gives_its_subsets_reconstructions_matches_and_metrics(data, one_thread):
    result = run(data)
    train, control = result["train_indices"], result["control_indices"]
    assert len(train) == len(control) == 12 and not set(train) & set(control)
    assert np.bincount(data.train.labels[train]).tolist() == np.bincount(data.train.labels[control]).tolist()
    assert result["images"].dtype == np.uint8 and result["images"].shape == (6, 1, 12, 12)
    assert result["labels"].tolist() == [0, 0, 1, 1, 2, 2]
    assert set(result["train_nearest"]) <= set(train) and set(result["control_nearest"]) <= set(control)
    assert (data.train.labels[result["train_nearest"]] == result["labels"]).all()  # matched within the class
    assert result["train_ssim"].shape == result["control_ssim"].shape == (6,)
    metrics = result["metrics"]
    assert metrics["size"] == 12 and metrics["control_split"] == "train" and metrics["num_reconstructions"] == 6
    assert metrics["leakage_gap"] == pytest.approx(metrics["ssim_train_mean"] - metrics["ssim_control_mean"])
    assert metrics["leakage_gap"] == pytest.approx(float(np.mean(result["train_ssim"] - result["control_ssim"])))
    assert 0.0 <= metrics["target_test_accuracy"] <= 1.0 and metrics["target_epochs"] >= 1
    assert 0.0 < metrics["recon_confidence_mean"] <= 1.0 and np.isfinite(metrics["final_loss"])
    assert "per_reconstruction" not in metrics
    assert list(leakage_rows([metrics])[0]) == list(LEAKAGE_COLUMNS)


def test_the_same_seed_gives_the_same_numbers_and_another_control_split_is_used(data, one_thread):
    first, again = run(data), run(data)
    timings = ("target_seconds", "reconstruct_seconds", "match_seconds")
    assert {k: v for k, v in first["metrics"].items() if k not in timings} == {
        k: v for k, v in again["metrics"].items() if k not in timings}
    np.testing.assert_array_equal(first["images"], again["images"])
    held_out = run(data, control="val")
    assert held_out["metrics"]["control_split"] == "val"
    assert held_out["control_indices"].max() < len(data.val.labels)
    assert (data.val.labels[held_out["control_nearest"]] == held_out["labels"]).all()


def test_leakage_rows_keep_the_headline_columns_in_order():
    metrics = [{**{k: float(i) for k in LEAKAGE_COLUMNS}, "size": size, "extra": 1} for i, size in enumerate((10, 20))]
    rows = leakage_rows(metrics)
    assert [r["size"] for r in rows] == [10, 20] and all(list(r) == list(LEAKAGE_COLUMNS) for r in rows)
