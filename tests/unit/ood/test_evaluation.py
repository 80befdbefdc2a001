"""evaluate_detector on a tiny detector: the metrics table, its means, best method, rejection rates and ROC rows."""

import numpy as np
import pytest
import torch

from netinv.ood.detector import OodDetector
from netinv.ood.evaluation import evaluate_detector, method_tables
from netinv.ood.garbage_model import class_probs, garbage_model_from
from netinv.ood.metrics import CONVENTIONS, ood_metrics, roc_points
from netinv.ood.posthoc import fit_posthoc
from netinv.ood.sets import noise_images

CPU = torch.device("cpu")


def test_method_tables_average_each_method_over_the_sets_and_list_every_roc_point():
    rng = np.random.default_rng(0)
    id_scores = {"a": rng.normal(0, 1, 40), "b": rng.normal(0, 1, 40)}
    ood = {"far": {"a": rng.normal(5, 1, 30), "b": rng.normal(0, 1, 30)},
           "near": {"a": rng.normal(1, 1, 30), "b": rng.normal(0.5, 1, 30)}}
    result = method_tables(id_scores, ood, ("a", "b"))
    methods = result.metrics["methods"]
    assert list(methods) == ["a", "b"] and list(methods["a"]) == ["far", "near", "mean_auroc"]
    assert methods["a"]["far"] == ood_metrics(id_scores["a"], ood["far"]["a"])
    assert methods["a"]["far"]["auroc"] > 0.99
    assert methods["b"]["mean_auroc"] == pytest.approx(np.mean([methods["b"][s]["auroc"] for s in ("far", "near")]))
    fpr, tpr = roc_points(id_scores["b"], ood["near"]["b"])
    np.testing.assert_array_equal(result.curves["b"]["near"][0], fpr)
    rows = [r for r in result.roc_rows if r["method"] == "b" and r["ood_set"] == "near"]
    assert [(r["fpr"], r["tpr"]) for r in rows] == list(zip(fpr.tolist(), tpr.tolist(), strict=True))
    assert len(result.roc_rows) == sum(len(c[0]) for per_set in result.curves.values() for c in per_set.values())


def test_evaluate_detector_on_a_tiny_detector(tiny_classifier, blobs, one_thread):
    images, labels = blobs
    posthoc = fit_posthoc(tiny_classifier, images[:300], labels[:300], ("msp", "energy", "knn"), CPU, knn_k=10)
    detector = OodDetector(garbage_model_from(tiny_classifier), posthoc, ("a", "b", "c"), (1, 12, 12), CPU)
    ood_sets = {"uniform": noise_images("uniform", 40, (1, 12, 12), 1),
                "gaussian": noise_images("gaussian", 30, (1, 12, 12), 2)}
    test_images, test_labels = images[300:390], labels[300:390]
    evaluation = evaluate_detector(detector, tiny_classifier, test_images, test_labels, ood_sets)
    metrics = evaluation.metrics
    assert list(metrics) == ["methods", "id_accuracy", "id_rejection_rate", "ood_rejection_rate", "best_method",
                             "conventions", "ood_sets", "num_id_test"]
    assert set(metrics["methods"]) == set(detector.methods) == {"garbage", "garbage_ue", "msp", "energy", "knn"}
    scores, uniform = detector.score(test_images), detector.score(ood_sets["uniform"])
    assert metrics["methods"]["knn"]["uniform"] == ood_metrics(scores["knn"], uniform["knn"])
    assert metrics["methods"]["knn"]["mean_auroc"] > 0.9  # noise is far from the blobs in feature space
    best = metrics["best_method"]
    assert all(metrics["methods"][best]["mean_auroc"] >= v["mean_auroc"] for v in metrics["methods"].values())
    plain = (tiny_classifier(torch.from_numpy(test_images).float() / 255).argmax(1).numpy() == test_labels).mean()
    assert metrics["id_accuracy"]["plain"] == pytest.approx(float(plain))
    probs = class_probs(detector.garbage_model, test_images, CPU)
    assert metrics["id_accuracy"]["garbage"] == float(np.mean(probs[:, :3].argmax(1) == test_labels))
    assert metrics["id_rejection_rate"]["garbage"] == float(np.mean(probs.argmax(1) == 3))
    assert set(metrics["ood_rejection_rate"]) == {"uniform", "gaussian"}
    assert all(0.0 <= v <= 1.0 for v in metrics["ood_rejection_rate"].values())
    assert metrics["ood_sets"] == {"uniform": 40, "gaussian": 30} and metrics["num_id_test"] == 90
    assert metrics["conventions"] == CONVENTIONS
    assert evaluation.aurocs()["msp"] == {s: metrics["methods"]["msp"][s]["auroc"] for s in ("uniform", "gaussian")}
    assert {(r["method"], r["ood_set"]) for r in evaluation.roc_rows} == {
        (m, s) for m in detector.methods for s in ood_sets}
