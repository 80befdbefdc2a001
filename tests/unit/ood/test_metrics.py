import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from netinv.ood.garbage_model import garbage_scores
from netinv.ood.metrics import fpr_at_tpr, ood_metrics, roc_points, uncertainty


def test_separable_scores_are_perfect_and_reversed_ones_worst():
    id_scores, ood_scores = np.arange(10.0), np.arange(10.0) + 100
    assert ood_metrics(id_scores, ood_scores) == pytest.approx({"auroc": 1.0, "aupr_in": 1.0, "aupr_out": 1.0, "fpr95": 0.0})
    worst = ood_metrics(ood_scores, id_scores)
    assert worst["auroc"] == 0.0 and worst["fpr95"] == 1.0


def test_fpr95_accepts_95_percent_of_id_and_counts_accepted_ood():
    id_scores = np.arange(20.0)  # 95% of 20 = 19 accepted: threshold 18 (scores <= 18)
    ood_scores = np.array([5.0, 18.0, 19.0, 30.0])  # 5 and 18 (a tie) accepted as ID
    assert fpr_at_tpr(id_scores, ood_scores) == 0.5
    assert ood_metrics(id_scores, ood_scores)["fpr95"] == 0.5
    # OOD-positive libraries would report 1 - this at the mirrored threshold: not our convention
    assert fpr_at_tpr(id_scores, np.array([100.0])) == 0.0


def test_auroc_and_aupr_agree_with_sklearn_by_hand_cases():
    # hand: pairs (ood > id) = 5 of 6, one tie counts half: id [1, 2, 3], ood [2, 4]
    m = ood_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0]))
    assert m["auroc"] == pytest.approx((1 + 0.5 + 1 + 1 + 1 + 0) / 6)
    rng = np.random.default_rng(0)
    id_scores, ood_scores = rng.normal(0, 1, 300), rng.normal(1, 1, 200)
    m = ood_metrics(id_scores, ood_scores)
    y = np.r_[np.zeros(300), np.ones(200)]
    s = np.r_[id_scores, ood_scores]
    assert m["auroc"] == pytest.approx(roc_auc_score(y, s))
    assert m["aupr_out"] == pytest.approx(average_precision_score(y, s))
    assert m["aupr_in"] == pytest.approx(average_precision_score(1 - y, -s))
    fpr, tpr = roc_points(id_scores, ood_scores, max_points=50)
    assert len(fpr) <= 50 and fpr[0] == 0 and fpr[-1] == 1 == tpr[-1] and np.all(np.diff(fpr) >= 0)


def test_metrics_refuse_empty_or_nan():
    with pytest.raises(ValueError, match="need ID and OOD"):
        ood_metrics(np.array([]), np.array([1.0]))
    with pytest.raises(ValueError, match="NaN"):
        ood_metrics(np.array([np.nan]), np.array([1.0]))


def test_uncertainty_hand_values():
    probs = np.array([[1.0, 0.0], [0.5, 0.5], [0.75, 0.25]])
    # one-hot -> 0; uniform -> 1; (0.75, 0.25): 1 - 2 * 0.25^2 / (1 - 1/2) = 0.75
    assert uncertainty(probs) == pytest.approx([0.0, 1.0, 0.75])
    assert uncertainty(np.full((1, 4), 0.25)) == pytest.approx([1.0])


def test_garbage_scores_rank_rejected_inputs_above_accepted_ones():
    probs = np.array([[0.9, 0.05, 0.05],   # confident real class: low scores
                      [0.4, 0.3, 0.3],     # uncertain: high UE, still accepted
                      [0.2, 0.2, 0.6]])    # assigned to garbage (last class)
    s = garbage_scores(probs)
    assert s["garbage"] == pytest.approx([0.05, 0.3, 0.6])
    assert s["garbage_ue"][0] < s["garbage_ue"][1] < 1.0 < s["garbage_ue"][2]
