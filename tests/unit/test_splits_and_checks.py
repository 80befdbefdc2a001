import numpy as np
import pytest

from netinv.atomic import atomic_path, write_json
from netinv.data import DatasetError, ImageDataset
from netinv.splits import (
    balanced_limit,
    channel_stats,
    load_prepared,
    save_prepared,
    stratified_split,
)
from netinv.validation.dataset import dataset_checks, image_table
from netinv.validation.suite import run_checks


@pytest.fixture
def dataset(blobs):
    images, labels = blobs
    return ImageDataset(images, labels, ("top", "middle", "bottom"), "blobs")


def test_stratified_split_keeps_class_proportions(dataset):
    keep, held = stratified_split(dataset, 0.25, seed=0)
    assert len(held) == 150 and len(keep) == 450
    assert np.bincount(held.labels).tolist() == [50, 50, 50]


def test_balanced_limit(dataset):
    small = balanced_limit(dataset, 30, seed=0)
    assert np.bincount(small.labels).tolist() == [10, 10, 10]
    assert balanced_limit(dataset, None, seed=0) is dataset


def test_prepared_roundtrip_and_missing_meta(tmp_path, dataset):
    train, test = stratified_split(dataset, 0.2, seed=0)
    train, val = stratified_split(train, 0.1, seed=0)
    mean, std = channel_stats(train.images)
    save_prepared(tmp_path / "p", train, val, test, {"class_names": list(dataset.class_names),
                                                     "image_shape": [1, 12, 12], "mean": mean, "std": std})
    prepared = load_prepared(tmp_path / "p")
    np.testing.assert_array_equal(prepared.test.images, test.images)
    assert prepared.image_shape == (1, 12, 12)
    with pytest.raises(DatasetError, match="not a prepared-data folder; prepare the data first") as info:
        load_prepared(tmp_path / "elsewhere")
    assert info.value.rebuild


def test_atomic_write_keeps_the_old_file_when_the_writer_dies(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text('{"v": 2, "half')
        raise RuntimeError("killed mid-write")
    assert target.read_text().strip().endswith("}") and '"v": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temp file left behind


def test_data_checks_pass_on_balanced_data(dataset):
    result = run_checks(image_table(dataset.images, dataset.labels), dataset_checks(3, 0.05), "t")
    assert result.success, result.describe_failures()


def test_data_checks_name_the_failed_expectation(dataset):
    labels = dataset.labels.copy()
    labels[:400] = 0  # heavily imbalanced
    images = dataset.images.astype(np.float32)
    images[0, 0, 0, 0] = np.nan
    result = run_checks(image_table(images, labels), dataset_checks(3, 0.05), "t")
    assert not result.success
    failed = {r.name for r in result.failed("critical")}
    assert failed == {"class_balance_kl", "no_nan_pixels"}
    assert "class_balance_kl (observed" in result.describe_failures()


def test_warning_checks_do_not_fail_the_suite(dataset):
    images = np.zeros_like(dataset.images)  # every image blank: only a warning
    result = run_checks(image_table(images, dataset.labels), dataset_checks(3, 0.05), "t")
    assert result.success
    assert [r.name for r in result.failed("warning")] == ["images_not_blank"]
