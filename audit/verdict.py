"""The verdict card: one line per question a reviewer asks, each with its number and threshold.

Shared by the pipeline's report (stages/report.py: `pipeline_verdicts` from the metrics files)
and the production audit (audit/outcome.py: `audit_verdicts`), so that both pages open with the
same three answers: what the model learned, whether it rejects out-of-distribution inputs, and
whether its training data leaks. Each answer is made of `Reading`s, one number held to one
`Threshold` of params.yaml; the audit's critical gates (`gate_messages`) are the same readings,
so the card and the audit's pass / fail can never disagree.

Fidelity and confidence alone answer nothing: a degenerate inversion (grey speckle the
classifier is sure of) meets them. "What the model learned" is therefore held to the held-out
judge (a network no sweep, default or threshold was chosen on) and to coverage of the real test
images against what as many real images cover (`coverage_real`).

Imports nothing heavy (no torch): the report stage reads metrics files only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from audit.config import AuditProfile, QualityGates, VerdictParams
from netinv.config.validation import Threshold
from netinv.errors import NetinvError

Status = Literal["pass", "warn", "fail", "not run"]
TOPICS = ("What the model learned", "OOD rejection", "Training-data leakage")
LEARNED, OOD, LEAKAGE = TOPICS
PIPELINE_METRICS = ("inversion", "distill", "validation", "ood", "reconstruction")  # metrics/NAME.json


@dataclass(frozen=True)
class Verdict:
    topic: str  # one of TOPICS
    status: Status
    value: str  # the deciding number, formatted, e.g. "held-out judge agrees on 0.885"
    threshold: str  # what it was held to, e.g. ">= 0.85 (critical)"
    sentence: str  # the answer in one plain sentence
    anchor: str = ""  # id of the report section with the evidence


class MetricsFileError(NetinvError, ValueError):
    """A metrics file the verdicts read exists but is not a JSON object."""


# --- readings: one number against one threshold -------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """One number held to one threshold of params.yaml; `why` says what missing it means."""

    name: str  # e.g. "held-out judge agreement"
    value: float
    threshold: Threshold
    why: str = ""  # e.g. "the samples carry the classifier's shortcuts, not its classes"
    subject: str = ""  # what the number is of, when a name repeats (an OOD set)
    higher_is_better: bool = True
    shown: str = ""  # the value as the card shows it, when not the bare number (a gap with its interval)
    reads: str = ""  # what of `shown` is held to the threshold, when not all of it ("low end")

    @property
    def missed(self) -> bool:
        limit = self.threshold.value
        return self.value < limit if self.higher_is_better else self.value > limit

    @property
    def critical(self) -> bool:
        return self.threshold.severity == "critical"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.subject})" if self.subject else self.name

    @property
    def value_text(self) -> str:
        return f"{self.label} {self.shown or format(self.value, '.3g')}"

    @property
    def threshold_text(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        return f"{self.name} {sign} {self.threshold.value:g} ({self.threshold.severity})"

    @property
    def message(self) -> str:
        """The failure or warning line of a missed reading."""
        sign = "<" if self.higher_is_better else ">"
        held = f"{self.value:.3g} {sign} {self.threshold.value:g}"
        text = f"{self.label} {self.shown}, {self.reads} {held}" if self.reads else f"{self.label} {held}"
        return f"{text}: {self.why}" if self.why else text


def status_of(readings: Sequence[Reading], critical_failures: Sequence[str] = (),
              warnings: Sequence[str] = ()) -> Status:
    """fail when a critical reading is missed (or a critical failure is given), warn for a warning."""
    if critical_failures or any(r.missed and r.critical for r in readings):
        return "fail"
    if warnings or any(r.missed for r in readings):
        return "warn"
    return "pass"


def gate_messages(readings: Sequence[Reading]) -> tuple[list[str], list[str]]:
    """(failures, warnings): the messages of the missed readings, by severity."""
    missed = [r for r in readings if r.missed]
    return [r.message for r in missed if r.critical], [r.message for r in missed if not r.critical]


def summary(readings: Sequence[Reading]) -> tuple[str, str]:
    """(value, threshold) of a card line: per reading name, the missed readings, else the one nearest
    its threshold, so that a line over several OOD sets stays one line."""
    groups: dict[str, list[Reading]] = {}
    for r in readings:
        groups.setdefault(r.name, []).append(r)
    shown: list[Reading] = []
    for group in groups.values():
        missed = [r for r in group if r.missed]
        worst = min(group, key=lambda r: r.value if r.higher_is_better else -r.value)
        shown += missed or [worst]
    return (" · ".join(r.value_text for r in shown),
            " · ".join(group[0].threshold_text for group in groups.values()))


def verdict(topic: str, readings: Sequence[Reading], answers: tuple[str, str, str], anchor: str,
            critical_failures: Sequence[str] = (), warnings: Sequence[str] = (), value_prefix: str = "",
            threshold_suffix: str = "") -> Verdict:
    """A card line from readings; `answers` are the (pass, warn, fail) openings of its sentence, to
    which the missed readings' and the given failures' / warnings' reasons are added."""
    status = status_of(readings, critical_failures, warnings)
    value, threshold = summary(readings)
    reasons = [r.message for r in readings if r.missed and (r.critical or status == "warn")]
    reasons += list(critical_failures) + (list(warnings) if status == "warn" else [])
    opening = dict(zip(("pass", "warn", "fail"), answers, strict=True))[status]
    sentence = f"{opening}: {'; '.join(reasons)}." if reasons else f"{opening}."
    return Verdict(topic, status, " · ".join(p for p in (value_prefix, value) if p),
                   " · ".join(p for p in (threshold, threshold_suffix) if p), sentence, anchor)


def not_run(topic: str, why: str, anchor: str = "") -> Verdict:
    return Verdict(topic, "not run", "—", "—", why, anchor)


def number(metrics: Mapping[str, Any], *path: str) -> float | None:
    """metrics[path[0]][path[1]]... as a float, None where a key is missing or not a number."""
    value: Any = metrics
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- what the model learned ---------------------------------------------------------------------

LEARNED_ANSWERS = ("The samples show what the model learned",
                   "The samples show what the model learned, with reservations",
                   "The samples do not show what the model learned")


def quality_readings(quality: Mapping[str, Any], gates: QualityGates) -> list[Reading]:
    """The held-out judge's agreement and coverage against the real control, as readings; raises
    KeyError naming the missing metric (an inversion measured without the held-out judge or control)."""
    missing = [k for k in ("eval_agreement_heldout", "coverage", "coverage_real") if number(quality, k) is None]
    if missing:
        raise KeyError(", ".join(missing))
    ratio = quality["coverage"] / quality["coverage_real"] if quality["coverage_real"] > 0 else 0.0
    return [
        Reading("held-out judge agreement", quality["eval_agreement_heldout"], gates.min_heldout_agreement,
                "a judge that no choice was made on does not recognise most samples, which carry the "
                "classifier's shortcuts rather than its classes"),
        Reading("coverage / real", ratio, gates.min_coverage_ratio,
                "the samples stay away from the real images (coverage "
                f"{quality['coverage']:.3g} against {quality['coverage_real']:.3g} for as many real images)",
                shown=f"{ratio:.3g} ({quality['coverage']:.3g} of {quality['coverage_real']:.3g})"),
    ]


def suite_reasons(validation: Mapping[str, Any] | None) -> tuple[list[str], list[str]]:
    """(critical failures, warnings) of a generated-samples suite result, named for the card."""
    if not validation:
        return [], []
    return ([f"sample check '{n}' failed" for n in validation.get("critical_failures", [])],
            [f"sample check '{n}' warns" for n in validation.get("warnings", [])])


def learned_verdict(quality: Mapping[str, Any], gates: QualityGates, validation: Mapping[str, Any] | None,
                    anchor: str, extra: Sequence[Reading] = (), source: str = "the inversion") -> Verdict:
    """What the model learned: fidelity shown, the held-out judge and coverage held to `gates`, the
    sample suite's failures and warnings, and `extra` readings (the pipeline's distillation)."""
    try:
        readings = quality_readings(quality, gates) + list(extra)
    except KeyError as missing:
        return not_run(LEARNED, f"{source} holds no {missing.args[0]}: measure the inversion with the held-out "
                                "judge and the real control (netinv.metrics.inversion.inversion_quality).", anchor)
    failures, warnings = suite_reasons(validation)
    fidelity = number(quality, "fidelity")
    return verdict(LEARNED, readings, LEARNED_ANSWERS, anchor, failures, warnings,
                   value_prefix=f"fidelity {fidelity:.3g}" if fidelity is not None else "",
                   threshold_suffix="sample suite: no critical failure" if validation is not None else "")


def distill_readings(distill: Mapping[str, Any] | None) -> list[Reading]:
    """The student distilled from the samples against the noise floor (a student distilled from noise):
    samples that teach no more than noise carry nothing of what the model learned (a warning)."""
    floor, student = (number(distill, "noise_floor"), number(distill, "student_accuracy_samples")) if distill \
        else (None, None)
    if floor is None or student is None:
        return []
    return [Reading("student accuracy from the samples", student, Threshold(floor, "warning"),
                    "a student distilled from the samples is no better than one distilled from noise",
                    subject=f"noise floor {floor:.3g}")]


# --- OOD rejection ------------------------------------------------------------------------------

OOD_ANSWERS = ("The model's OOD detectors reject every OOD set",
               "OOD inputs are rejected, with reservations",
               "The model does not reject out-of-distribution inputs")


def best_method(by_method: Mapping[str, float]) -> tuple[str, float]:
    return max(by_method.items(), key=lambda item: item[1])


def pipeline_ood_readings(ood: Mapping[str, Any], params: VerdictParams) -> list[Reading]:
    """Per OOD set: the best detector's AUROC and the garbage class's rejection rate at its decision rule;
    the share of real test images the garbage class rejects."""
    methods = {m: v for m, v in ood.get("methods", {}).items() if isinstance(v, Mapping)}
    sets = sorted({s for v in methods.values() for s, m in v.items() if isinstance(m, Mapping)})
    readings = []
    for name in sets:
        aurocs = {m: a for m in methods if (a := number(methods, m, name, "auroc")) is not None}
        method, auroc = best_method(aurocs)
        readings.append(Reading("best AUROC", auroc, params.min_best_auroc,
                                "no detector tells it from real test images", subject=f"{name}, {method}"))
    for name in sets:
        if (rate := number(ood, "ood_rejection_rate", name)) is not None:
            readings.append(Reading("rejected by the garbage class", rate, params.min_rejection_rate,
                                    "at its own decision rule the garbage-class model accepts most of this set "
                                    "as a real class", subject=name))
    if (id_rate := number(ood, "id_rejection_rate", "garbage")) is not None:
        readings.append(Reading("real test images rejected", id_rate, params.max_id_rejection_rate,
                                "the garbage class rejects real inputs", higher_is_better=False))
    return readings


def audit_ood_readings(metrics: Mapping[str, float], profile: AuditProfile) -> list[Reading]:
    """Per OOD set of the audit's probe: the best post-hoc detector's AUROC."""
    readings = []
    for name in profile.ood.sets:
        aurocs = {m: a for m in profile.ood.methods if (a := number(metrics, f"{name}_{m}_auroc")) is not None}
        if aurocs:
            method, auroc = best_method(aurocs)
            readings.append(Reading("best AUROC", auroc, profile.ood.min_auroc,
                                    "no detector tells it from real test images", subject=f"{name}, {method}"))
    return readings


def ood_verdict(readings: Sequence[Reading], anchor: str) -> Verdict:
    if not readings:
        return not_run(OOD, "The OOD evaluation holds no AUROC per OOD set.", anchor)
    return verdict(OOD, readings, OOD_ANSWERS, anchor)


# --- training-data leakage ----------------------------------------------------------------------

def leakage_verdict(audited: Sequence[Reading], positive: str | None, inconclusive: str, anchor: str) -> Verdict:
    """Leakage when an interval of the audited model lies above its threshold; otherwise a pass only when
    the same attack found the leakage of a positive control (`positive`: its result, formatted), since a
    weak attack finds nothing anywhere; else inconclusive, for the reason `inconclusive`."""
    value, threshold = summary(audited)
    value += f" · positive control {positive}" if positive else ""
    status = status_of(audited)
    if status != "pass":
        reasons = "; ".join(r.message for r in audited if r.missed)
        return Verdict(LEAKAGE, status, value, threshold, f"Training data leaks: {reasons}.", anchor)
    if positive is None:
        return Verdict(LEAKAGE, "warn", value, threshold,
                       f"Inconclusive: no leakage measurable at this attack budget, but {inconclusive}.", anchor)
    return Verdict(LEAKAGE, "pass", value, threshold,
                   "No leakage found, by an attack that does find it in a model trained to memorise.", anchor)


RECOVERED = ("recovered_gap", "recovered_ci_low", "recovered_ci_high")
SSIM_GAP = ("leakage_gap", "gap_ci_low", "gap_ci_high")


def gap_reading(name: str, metrics: Mapping[str, Any], keys: tuple[str, str, str], threshold: Threshold,
                why: str) -> Reading | None:
    """A gap (training minus held-out) read at the low end of its 95% interval; None when not measured."""
    if any(number(metrics, k) is None for k in keys):
        return None
    gap, low, high = (metrics[k] for k in keys)
    return Reading(name, low, threshold, why, higher_is_better=False,
                   shown=f"{gap:+.3f} (95% CI [{low:+.3f}, {high:+.3f}])", reads="its low end")


def recovered_reading(subject: Mapping[str, Any], threshold: Threshold, prefix: str = "") -> Reading | None:
    """A KKT / reconstruction attack's recovered-fraction gap (netinv.reconstruction.recovery.verdict)."""
    return gap_reading("recovered gap", subject, tuple(prefix + k for k in RECOVERED), threshold,
                       "reconstructions recover training images more often than held-out ones")


def pipeline_leakage_verdict(reconstruction: Mapping[str, Any], threshold: Threshold, anchor: str) -> Verdict:
    audited, positive = reconstruction.get("audited_model"), reconstruction.get("positive_control")
    reading = recovered_reading(audited, threshold) if isinstance(audited, Mapping) else None
    if reading is None:
        return not_run(LEAKAGE, "The attack on the audited classifier was not run "
                                "(reconstruct.audited_model.enabled).", anchor)
    control = recovered_reading(positive, threshold) if isinstance(positive, Mapping) else None
    found = control is not None and control.missed
    inconclusive = ("the positive control was not run (reconstruct.positive_control.enabled)" if control is None
                    else "the same attack found no leakage in the positive control (a model trained to memorise) "
                         "either: it may be too weak to find any")
    return leakage_verdict([reading], control.shown if found else None, inconclusive, anchor)


def audit_leakage_readings(metrics: Mapping[str, float], profile: AuditProfile) -> list[Reading]:
    """The audit's leakage probe: the SSIM gap of its reconstructions and, when the attack on the audited
    model ran (`attack_*`), its recovered gap, both held to `leakage.max_gap_ci_low`."""
    threshold = profile.leakage.max_gap_ci_low
    readings = [gap_reading("SSIM gap", metrics, SSIM_GAP, threshold,
                            "reconstructions are closer to training images than to held-out ones"),
                recovered_reading(metrics, threshold, prefix="attack_")]
    return [r for r in readings if r is not None]


def audit_leakage_verdict(metrics: Mapping[str, float], profile: AuditProfile, anchor: str) -> Verdict:
    """The audit runs no positive control, so a probe that finds nothing is inconclusive."""
    readings = audit_leakage_readings(metrics, profile)
    if not readings:
        return not_run(LEAKAGE, "The leakage probe reported no gap.", anchor)
    return leakage_verdict(readings, None, "the audit runs no positive control (the pipeline's, a model "
                                           "trained to memorise, is in metrics/reconstruction.json)", anchor)


# --- the two cards ------------------------------------------------------------------------------

def read_metrics(paths: Mapping[str, str | Path | None]) -> dict[str, dict[str, Any] | None]:
    """{name: the JSON object in paths[name]}, None where no path was given or the file is missing; a
    file that is not a JSON object is an error that names it and the fix."""
    out: dict[str, dict[str, Any] | None] = {}
    for name, path in paths.items():
        if path is None or not Path(path).is_file():
            out[name] = None
            continue
        try:
            loaded = json.loads(Path(path).read_text())
        except json.JSONDecodeError as exc:
            raise MetricsFileError(f"{path} is not valid JSON ({exc}); rerun the stage that writes it") from None
        if not isinstance(loaded, dict):
            raise MetricsFileError(f"{path} holds a {type(loaded).__name__}, not a JSON object; rerun the stage "
                                   "that writes it")
        out[name] = loaded
    return out


def read_pipeline_metrics(metrics_dir: str | Path = "metrics") -> dict[str, dict[str, Any] | None]:
    """metrics/NAME.json for each of PIPELINE_METRICS as a dict, None where the file is missing."""
    return read_metrics({name: Path(metrics_dir) / f"{name}.json" for name in PIPELINE_METRICS})


def pipeline_verdicts(metrics: Mapping[str, Mapping[str, Any] | None], params: VerdictParams) -> list[Verdict]:
    """The pipeline report's three answers from its metrics files (keys of PIPELINE_METRICS, None or absent
    for a missing file: that answer is "not run"), held to `report.verdicts` of params.yaml."""
    inversion, ood, reconstruction = (metrics.get(k) for k in ("inversion", "ood", "reconstruction"))
    learned = (learned_verdict(inversion, params.learned, metrics.get("validation"), "inversion",
                               distill_readings(metrics.get("distill")), source="metrics/inversion.json")
               if inversion is not None else not_run(LEARNED, "No inversion metrics (stage invert).", "inversion"))
    rejection = (ood_verdict(pipeline_ood_readings(ood, params), "ood") if ood is not None
                 else not_run(OOD, "No OOD metrics (stage ood).", "ood"))
    leakage = (pipeline_leakage_verdict(reconstruction, params.max_recovered_ci_low, "reconstruction")
               if reconstruction is not None
               else not_run(LEAKAGE, "No reconstruction metrics (stage reconstruct).", "reconstruction"))
    return [learned, rejection, leakage]


def audit_verdicts(quality: Mapping[str, Any], validation: Mapping[str, Any],
                   probes: Mapping[str, Mapping[str, float]], profile: AuditProfile) -> list[Verdict]:
    """The audit's three answers: its inversion and sample suite, and each probe's metrics by probe name
    (a probe the profile skips: "not run"), held to the profile's thresholds."""
    learned = learned_verdict(quality, profile.gates, validation, "inversion")
    rejection = (ood_verdict(audit_ood_readings(probes["ood"], profile), "ood") if "ood" in probes
                 else not_run(OOD, "The profile runs no OOD probe.", "ood"))
    leakage = (audit_leakage_verdict(probes["leakage"], profile, "leakage") if "leakage" in probes
               else not_run(LEAKAGE, "The profile runs no leakage probe.", "leakage"))
    return [learned, rejection, leakage]


def audit_gates(quality: Mapping[str, Any], gates: QualityGates) -> tuple[list[str], list[str]]:
    """(failures, warnings) of the audit's set-level gates (`audit.profiles.NAME.gates`)."""
    return gate_messages(quality_readings(quality, gates))


def verdict_text(subject: str, passed: bool, verdicts: Sequence[Verdict], failures: Sequence[str],
                 warnings: Sequence[str]) -> str:
    """The verdict as a few lines for a terminal: PASS / FAIL, each answer, then every failure and
    warning, so that nothing the audit found hides in a JSON field or a log."""
    lines = [f"VERDICT {'PASS' if passed else 'FAIL'}: {subject}"]
    lines += [f"  [{v.status}] {v.topic}: {v.value} (held to {v.threshold}). {v.sentence}" for v in verdicts]
    lines += [f"  failure: {f}" for f in failures] + [f"  warning: {w}" for w in warnings]
    return "\n".join(lines)
