"""The verdict card (audit/verdict.py) on constructed metrics: every answer reaches pass, warn, fail and
"not run", the audit's gates fail samples the held-out judge does not recognise or that stay away
from the real images, and the terminal text names every failure and warning."""

from __future__ import annotations

import copy
import json

import pytest

from audit.config import AuditProfile, VerdictParams
from audit.verdict import (
    LEAKAGE,
    LEARNED,
    OOD,
    TOPICS,
    MetricsFileError,
    audit_gates,
    audit_verdicts,
    pipeline_verdicts,
    read_pipeline_metrics,
    verdict_text,
)

PARAMS = VerdictParams()


def attack(gap: float, low: float, high: float) -> dict[str, float]:
    return {"recovered_gap": gap, "recovered_ci_low": low, "recovered_ci_high": high}


def pipeline_metrics() -> dict[str, dict]:
    """The shapes of metrics/*.json, with numbers that pass every threshold."""
    ood_set = {"mnist": {"auroc": 0.99}, "gaussian": {"auroc": 1.0}}
    return {
        "inversion": {"fidelity": 0.99, "eval_agreement": 0.82, "eval_agreement_heldout": 0.88,
                      "coverage": 0.032, "coverage_real": 0.595},
        "distill": {"noise_floor": 0.16, "student_accuracy_samples": 0.68},
        "validation": {"success": True, "critical_failures": [], "warnings": []},
        "ood": {"methods": {"vim": ood_set, "msp": {"mnist": {"auroc": 0.81}, "gaussian": {"auroc": 0.88},
                                                    "mean_auroc": 0.85}},
                "ood_rejection_rate": {"mnist": 0.9, "gaussian": 1.0}, "id_rejection_rate": {"garbage": 0.001}},
        "reconstruction": {"positive_control": attack(0.8, 0.5, 1.0), "audited_model": attack(0.0, 0.0, 0.0)},
    }


def by_topic(verdicts) -> dict:
    assert [v.topic for v in verdicts] == list(TOPICS)
    return {v.topic: v for v in verdicts}


def changed(path: tuple[str, ...], value) -> dict[str, dict]:
    metrics = pipeline_metrics()
    node = metrics
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return metrics


def test_every_answer_passes_on_good_numbers():
    verdicts = by_topic(pipeline_verdicts(pipeline_metrics(), PARAMS))
    assert {v.status for v in verdicts.values()} == {"pass"}
    learned = verdicts[LEARNED]
    assert "held-out judge agreement 0.88" in learned.value and "fidelity 0.99" in learned.value
    assert ">= 0.5 (critical)" in learned.threshold and ">= 0.04 (critical)" in learned.threshold
    assert "vim" in verdicts[OOD].value  # the best detector is named
    assert "positive control +0.800" in verdicts[LEAKAGE].value
    assert [v.anchor for v in verdicts.values()] == ["inversion", "ood", "reconstruction"]


@pytest.mark.parametrize(("path", "value", "status", "said"), [
    (("inversion", "eval_agreement_heldout"), 0.31, "fail", "held-out judge agreement 0.31 < 0.5"),
    (("inversion", "coverage"), 0.012, "fail", "coverage / real"),
    (("validation", "critical_failures"), ["fidelity"], "fail", "sample check 'fidelity' failed"),
    (("validation", "warnings"), ["eval_agreement"], "warn", "sample check 'eval_agreement' warns"),
    (("distill", "student_accuracy_samples"), 0.15, "warn", "no better than one distilled from noise"),
])
def test_what_the_model_learned(path, value, status, said):
    learned = by_topic(pipeline_verdicts(changed(path, value), PARAMS))[LEARNED]
    assert learned.status == status and said in learned.sentence


def test_ood_rejection_warns_when_the_garbage_class_lets_most_of_a_set_through():
    """metrics/ood.json today: every detector separates MNIST, yet the garbage class takes only 35% of it."""
    ood = by_topic(pipeline_verdicts(changed(("ood", "ood_rejection_rate", "mnist"), 0.354), PARAMS))[OOD]
    assert ood.status == "warn" and "rejected by the garbage class (mnist) 0.354" in ood.value
    assert "accepts most of this set" in ood.sentence


def test_ood_rejection_fails_when_no_detector_separates_a_set():
    metrics = changed(("ood", "methods", "vim", "mnist", "auroc"), 0.85)
    ood = by_topic(pipeline_verdicts(metrics, PARAMS))[OOD]
    assert ood.status == "fail" and "best AUROC (mnist, vim) 0.85" in ood.value


def test_ood_rejection_warns_when_real_images_are_rejected():
    ood = by_topic(pipeline_verdicts(changed(("ood", "id_rejection_rate", "garbage"), 0.2), PARAMS))[OOD]
    assert ood.status == "warn" and "real test images rejected 0.2 > 0.05" in ood.sentence


def test_leakage_of_the_audited_model_fails():
    metrics = changed(("reconstruction", "audited_model"), attack(0.3, 0.1, 0.5))
    leakage = by_topic(pipeline_verdicts(metrics, PARAMS))[LEAKAGE]
    assert leakage.status == "fail" and leakage.sentence.startswith("Training data leaks")
    assert "+0.300 (95% CI [+0.100, +0.500])" in leakage.value


@pytest.mark.parametrize(("positive", "said"), [
    (attack(0.1, -0.1, 0.3), "found no leakage in the positive control"),
    (None, "positive control was not run"),
])
def test_no_leakage_is_inconclusive_unless_the_positive_control_leaked(positive, said):
    metrics = pipeline_metrics()
    if positive is None:
        del metrics["reconstruction"]["positive_control"]
    else:
        metrics["reconstruction"]["positive_control"] = positive
    leakage = by_topic(pipeline_verdicts(metrics, PARAMS))[LEAKAGE]
    assert leakage.status == "warn" and leakage.sentence.startswith("Inconclusive") and said in leakage.sentence


@pytest.mark.parametrize(("missing", "topic", "stage"), [
    ("inversion", LEARNED, "invert"), ("ood", OOD, "ood"), ("reconstruction", LEAKAGE, "reconstruct")])
def test_a_missing_metrics_file_is_not_run(missing, topic, stage):
    metrics = pipeline_metrics()
    del metrics[missing]
    verdicts = by_topic(pipeline_verdicts(metrics, PARAMS))
    assert verdicts[topic].status == "not run" and f"(stage {stage})" in verdicts[topic].sentence
    assert all(v.status == "pass" for t, v in verdicts.items() if t != topic)


def test_an_inversion_measured_without_the_held_out_judge_is_not_run():
    metrics = pipeline_metrics()
    del metrics["inversion"]["eval_agreement_heldout"]
    learned = by_topic(pipeline_verdicts(metrics, PARAMS))[LEARNED]
    assert learned.status == "not run" and "eval_agreement_heldout" in learned.sentence


def test_an_audited_model_without_its_attack_is_not_run():
    metrics = pipeline_metrics()
    del metrics["reconstruction"]["audited_model"]
    assert by_topic(pipeline_verdicts(metrics, PARAMS))[LEAKAGE].status == "not run"


def test_thresholds_come_from_params():
    strict = VerdictParams.model_validate({"learned": {"min_heldout_agreement": {"value": 0.9, "severity": "warning"}}})
    learned = by_topic(pipeline_verdicts(pipeline_metrics(), strict))[LEARNED]
    assert learned.status == "warn" and ">= 0.9 (warning)" in learned.threshold


def test_read_pipeline_metrics(tmp_path):
    (tmp_path / "inversion.json").write_text(json.dumps(pipeline_metrics()["inversion"]))
    read = read_pipeline_metrics(tmp_path)
    assert read["inversion"]["fidelity"] == 0.99 and read["ood"] is None and set(read) >= {"distill", "validation"}
    (tmp_path / "ood.json").write_text("[1, 2]")
    with pytest.raises(MetricsFileError, match=r"ood\.json holds a list"):
        read_pipeline_metrics(tmp_path)


# --- the audit ----------------------------------------------------------------------------------

QUALITY = {"fidelity": 1.0, "eval_agreement": 0.9, "eval_agreement_heldout": 0.8, "coverage": 0.06,
           "coverage_real": 0.66}
SUITE = {"critical_failures": [], "warnings": []}
PROBES = {"ood": {"mnist_msp_auroc": 0.8, "mnist_vim_auroc": 0.97, "gaussian_msp_auroc": 0.99,
                  "uniform_energy_auroc": 0.95},
          "leakage": {"leakage_gap": 0.0, "gap_ci_low": -0.01, "gap_ci_high": 0.01}}


def test_audit_gates_fail_speckle_that_fidelity_passes():
    """The reviewer's case: fidelity 0.99, the ONNX export's near-identical speckle covers 0.020 of the
    real control; and a model whose samples the held-out judge does not recognise."""
    gates = AuditProfile().gates
    assert audit_gates(QUALITY, gates) == ([], [])
    failures, warnings = audit_gates({**QUALITY, "coverage": 0.013, "coverage_real": 0.6585}, gates)
    assert warnings == [] and len(failures) == 1 and failures[0].startswith("coverage / real 0.0197 < 0.04")
    failures, _ = audit_gates({**QUALITY, "eval_agreement_heldout": 0.33}, gates)
    assert failures[0].startswith("held-out judge agreement 0.33 < 0.5")


def test_audit_gates_need_the_held_out_judge():
    with pytest.raises(KeyError, match="eval_agreement_heldout"):
        audit_gates({k: v for k, v in QUALITY.items() if k != "eval_agreement_heldout"}, AuditProfile().gates)


def test_audit_verdicts():
    profile = AuditProfile()
    verdicts = by_topic(audit_verdicts(QUALITY, SUITE, PROBES, profile))
    assert verdicts[LEARNED].status == "pass"
    assert verdicts[OOD].status == "pass" and verdicts[OOD].value == "best AUROC (uniform, energy) 0.95"  # the weakest set
    # the audit runs no positive control: finding no leakage proves nothing
    assert verdicts[LEAKAGE].status == "warn" and "no positive control" in verdicts[LEAKAGE].sentence
    low_auroc = copy.deepcopy(PROBES)
    low_auroc["ood"]["mnist_vim_auroc"] = 0.85
    assert by_topic(audit_verdicts(QUALITY, SUITE, low_auroc, profile))[OOD].status == "warn"  # min_auroc: a warning
    leaking = {**PROBES, "leakage": {**PROBES["leakage"], "attack_recovered_gap": 0.4,
                                     "attack_recovered_ci_low": 0.2, "attack_recovered_ci_high": 0.6}}
    leakage = by_topic(audit_verdicts(QUALITY, SUITE, leaking, profile))[LEAKAGE]
    assert leakage.status == "warn" and "recovered gap +0.400 (95% CI [+0.200, +0.600]), its low end 0.2 > 0" in leakage.sentence
    skipped = by_topic(audit_verdicts(QUALITY, {"critical_failures": ["fidelity"], "warnings": []}, {}, profile))
    assert skipped[LEARNED].status == "fail" and skipped[OOD].status == skipped[LEAKAGE].status == "not run"


def test_verdict_text_names_every_failure_and_warning():
    verdicts = audit_verdicts({**QUALITY, "eval_agreement_heldout": 0.2}, SUITE, PROBES, AuditProfile())
    text = verdict_text("audit of m.onnx", False, verdicts, ["gate: held-out judge agreement 0.2 < 0.5"],
                        ["sample check 'x' failed"])
    lines = text.splitlines()
    assert lines[0] == "VERDICT FAIL: audit of m.onnx"
    assert lines[1].startswith("  [fail] What the model learned: fidelity 1 · held-out judge agreement 0.2")
    assert "  failure: gate: held-out judge agreement 0.2 < 0.5" in lines
    assert "  warning: sample check 'x' failed" in lines
