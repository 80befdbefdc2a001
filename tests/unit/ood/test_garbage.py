import dataclasses

import numpy as np
import pytest
import torch

from netinv.config.inversion import GeneratorConfig, InversionConfig
from netinv.config.ood import GarbageConfig
from netinv.inversion.generator import ConditionedGenerator
from netinv.ood.garbage import select_pool, train_garbage_model
from netinv.ood.garbage_model import garbage_model_from

CPU = torch.device("cpu")
CONFIG = GarbageConfig(rounds=2, initial_noise=200, pool_per_round=60, batch_size=50,
                       lr=3e-3, seed=0)
INVERSION = InversionConfig(generator_steps=8, batch_size=24, lr=3e-3, temperature=0.5, seed=0)


def make_generator() -> ConditionedGenerator:
    torch.manual_seed(0)
    return ConditionedGenerator(GeneratorConfig(num_classes=4, out_channels=1, image_size=(12, 12),
                                                mode="vector_matrix", latent_dim=8, width=8, embed_dim=4))


def run_loop(classifier, blobs, config=CONFIG, checkpoint=None):
    images, labels = blobs
    model = garbage_model_from(classifier)
    return train_garbage_model(model, make_generator(), images[100:], labels[100:], images[:100], labels[:100],
                               config, INVERSION, CPU, checkpoint=checkpoint)


def test_pool_rule_all_keeps_everything_uncertain_keeps_the_highest_ue():
    probs = np.array([[0.98, 0.01, 0.01], [0.4, 0.3, 0.3], [0.7, 0.2, 0.1], [0.34, 0.33, 0.33]])
    assert select_pool(probs, "all", 0.5).tolist() == [0, 1, 2, 3]
    assert select_pool(probs, "uncertain", 0.5).tolist() == [1, 3]  # the two closest to uniform
    assert select_pool(probs, "uncertain", 0.1).tolist() == [3]  # at least one
    with pytest.raises(ValueError, match="unknown pool_rule"):
        select_pool(probs, "some", 0.5)
    with pytest.raises(ValueError, match="pool_rule\n  Input should be 'all' or 'uncertain'"):
        GarbageConfig(pool_rule="some")


def test_garbage_model_starts_as_the_classifier(tiny_classifier, blobs, one_thread):
    model = garbage_model_from(tiny_classifier)
    x = torch.from_numpy(blobs[0][:50]).float() / 255
    with torch.no_grad():
        assert torch.allclose(model(x)[:, :3], tiny_classifier(x))
        assert (model(x).argmax(1) < 3).all()  # nothing rejected before training


def test_loop_separates_noise_from_data_over_rounds(tiny_classifier, blobs, one_thread):
    result = run_loop(tiny_classifier, blobs)
    history = result.history
    assert [h["round"] for h in history] == [0, 1, 2, 3]  # start, two rounds, the closing epoch
    assert history[0]["noise_rejected"] < 0.2  # the fresh garbage class accepts no noise yet
    assert history[-1]["noise_rejected"] > 0.9
    assert history[-1]["noise_auroc"] > max(history[0]["noise_auroc"], 0.95)
    assert history[-1]["id_accuracy"] > 0.9 and history[-1]["id_rejected"] < 0.1
    # the pool grew by the inverted samples of every class (3 real + garbage), 15 each
    assert len(result.pool) == 200 + 2 * 60
    assert np.bincount(result.pool.intended[result.pool.rounds == 1], minlength=4).tolist() == [15] * 4
    uncertain = run_loop(tiny_classifier, blobs, dataclasses.replace(CONFIG, rounds=1, pool_rule="uncertain",
                                                                     closing_epoch=False))
    assert len(uncertain.pool) == 200 + 30


def test_loop_resumes_from_a_round_checkpoint(tiny_classifier, blobs, one_thread, tmp_path, caplog):
    straight = run_loop(tiny_classifier, blobs)
    checkpoint = tmp_path / "rounds.pt"
    run_loop(tiny_classifier, blobs, dataclasses.replace(CONFIG, rounds=1), checkpoint)  # "killed" after round 1
    assert checkpoint.is_file()
    with caplog.at_level("INFO"):
        resumed = run_loop(tiny_classifier, blobs, CONFIG, checkpoint)
    assert "resuming the garbage-class loop after round 1" in caplog.text
    assert resumed.history[1]["train_loss"] == straight.history[1]["train_loss"]  # round 1 read, not rerun
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-5), name
    assert np.array_equal(straight.pool.images, resumed.pool.images)
    checkpoint.write_bytes(b"corrupt")  # a broken checkpoint costs a restart, not the run
    again = run_loop(tiny_classifier, blobs, dataclasses.replace(CONFIG, rounds=1), checkpoint)
    assert len(again.history) == 3
