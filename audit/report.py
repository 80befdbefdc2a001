"""The HTML report as library code: tables, figures and sections rendered to one self-contained page.

Used by the pipeline's `report` stage (stages/report.py: the pipeline's sections below) and
by the audit (audit/outcome.py: an audit's sections, audit/probes.py: a probe's own section).
The page opens with the verdict card (audit.verdict.Verdict: one line per question, with its
number and threshold and a link to the evidence), then a table of contents, then the sections,
each with a short "how to read this". Images are embedded as base64 PNG (re-encoded losslessly,
grey when grey), nothing is fetched, no script; all text is escaped (jinja2 autoescape). A
section whose inputs are missing says "not run"; a section a verdict points at (by anchor) wears
the verdict's status, so a badge never says "ok" beside failing numbers.

Section anchors of the pipeline's page: classifier, inversion, distill, validation, ood,
reconstruction; of an audit's page: model, checks, inversion, validation, ood, leakage, previous.
A verdict without a matching anchor links to the first section of its topic (TOPIC_ANCHORS).
Imports nothing of the project.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audit.verdict import Verdict

NOT_RUN = "not run"
MEASURED = "measured"  # numbers shown, no threshold judged on this page
# Worst last: a verdict raises a section's status, never lowers it.
STATUS_RANK = {NOT_RUN: 0, MEASURED: 1, "ok": 2, "warning": 3, "failed": 4}
VERDICT_STATUS = {"pass": "ok", "warn": "warning", "fail": "failed", "not run": NOT_RUN}
TOPIC_ANCHORS = {"What the model learned": ("inversion", "validation", "distill"),
                 "OOD rejection": ("ood",),
                 "Training-data leakage": ("reconstruction", "leakage")}


@dataclass
class Badge:
    """A table cell drawn as a coloured status badge (status: a Section status or a Verdict status)."""

    text: str
    status: str


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[Any]]  # cells: text, or Badge


@dataclass
class Figure:
    caption: str
    uri: str  # data:image/png;base64,...
    size: str = "full"  # full | half | third | quarter: the share of the page width it takes
    pixelated: bool = False  # tiny images blown up (sample grids): no smoothing


@dataclass
class Section:
    title: str
    status: str = "ok"  # ok | measured | not run | failed | warning
    note: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    anchor: str = ""  # the section's id (links from the verdict card and the contents); default: from the title
    how: str = ""  # "How to read this": two or three plain sentences

    @property
    def id(self) -> str:
        return self.anchor or (re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "section")


# --- images -------------------------------------------------------------------------------------

def compact_png(data: bytes) -> bytes:
    """The same picture as a smaller PNG where that is lossless: opaque RGBA -> RGB, equal channels
    -> grey, optimised deflate. The original bytes when that is not smaller (or PIL is missing)."""
    try:
        import numpy as np
        from PIL import Image
    except ImportError:  # pragma: no cover - both are project dependencies
        return data
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except OSError:
        return data
    if image.mode in ("RGBA", "LA", "RGB", "L", "P"):
        if image.mode == "P":
            image = image.convert("RGBA")
        pixels = np.asarray(image)
        if image.mode in ("RGBA", "LA") and bool((pixels[..., -1] == 255).all()):
            image = image.convert("RGB" if image.mode == "RGBA" else "L")
            pixels = np.asarray(image)
        if image.mode == "RGB" and bool((pixels[..., 0] == pixels[..., 1]).all()
                                        and (pixels[..., 1] == pixels[..., 2]).all()):
            image = image.convert("L")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue() if out.tell() < len(data) else data


def png_uri(path: str | Path) -> str:
    data = Path(path).read_bytes()
    if not data.startswith(b"\x89PNG"):
        raise ValueError(f"{path} is not a PNG file")
    return "data:image/png;base64," + base64.b64encode(compact_png(data)).decode("ascii")


def figure(path: str | Path | None, caption: str, size: str = "full", pixelated: bool = False) -> list[Figure]:
    """The PNG at `path` as an embedded figure, or nothing when it does not exist."""
    if path is None or not Path(path).is_file():
        return []
    return [Figure(caption, png_uri(path), size, pixelated)]


def read_json(path: str | Path | None) -> dict[str, Any] | None:
    if path is None or not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text())


# --- numbers and tables -------------------------------------------------------------------------

def fmt(value: Any, digits: int = 3) -> str:
    """Numbers to `digits` significant digits (large ones whole, with thousands separators)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if abs(value) >= 10 ** digits:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def pct(value: Any) -> str:
    """A fraction as a percentage, 3 significant digits: 0.3538 -> '35.4%'."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—"
    return f"{fmt(100.0 * value)}%"


def flat_numbers(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1.0}} -> {'a.b': 1.0}; lists are kept only when short and scalar."""
    if isinstance(tree, Mapping):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flat_numbers(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(tree, list):
        if len(tree) <= 8 and all(not isinstance(v, Mapping | list) for v in tree):
            return {prefix: ", ".join(fmt(v) for v in tree)}
        return {}
    return {prefix: tree}


def metrics_table(tree: Mapping[str, Any], caption: str, skip: Sequence[str] = ()) -> Table:
    """A nested metrics dict as a table: pivoted (row = path, column = leaf name) when the
    leaves repeat across several paths, e.g. {method: {ood_set: {auroc, fpr95}}}; else key/value."""
    flat = {k: v for k, v in flat_numbers(tree).items() if not any(k == s or k.startswith(s + ".") for s in skip)}
    groups: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        head, _, leaf = key.rpartition(".")
        groups.setdefault(head, {})[leaf] = value
    leaves = sorted({leaf for values in groups.values() for leaf in values})
    nested = [g for g in groups if g]
    if len(nested) >= 2 and len(leaves) <= 16:
        return Table(caption, ["", *leaves], [[g or "(top level)", *(fmt(groups[g].get(leaf, "")) for leaf in leaves)]
                                              for g in groups])
    return Table(caption, ["metric", "value"], [[k, fmt(v)] for k, v in flat.items()])


def labelled_table(values: Mapping[str, Any], labels: Sequence[tuple[str, str]], caption: str,
                   columns: Sequence[str] = ("", "value"), cell: Callable[[Any], str] = fmt) -> Table:
    """Key/value rows in `labels`' order and words ((key, label) pairs), present keys only."""
    return Table(caption, list(columns), [[label, cell(values[key])] for key, label in labels if key in values])


def pivot(tree: Mapping[str, Mapping[str, Any]], columns: Sequence[tuple[str, str]],
          row_label: Callable[[str], str] = str, cell: Callable[[Mapping[str, Any], str], str] | None = None,
          corner: str = "") -> tuple[list[str], list[list[Any]]]:
    """{row: {column: value}} as (headers, rows): one row per key of `tree` (its order), one column per
    (key, header) of `columns`; `cell(values, key)` formats a cell (default: fmt, '—' when absent)."""
    cell = cell or (lambda values, key: fmt(values[key]) if key in values else "—")
    headers = [corner, *(header for _, header in columns)]
    rows = [[row_label(key), *(cell(values, c) for c, _ in columns)] for key, values in tree.items()
            if isinstance(values, Mapping)]
    return headers, rows


def with_real(values: Mapping[str, Any], key: str, suffix: str = "_real") -> str:
    """'generated / real' when the metric has a real-data counterpart (`key` + suffix), else the value."""
    if key not in values:
        return "—"
    if key + suffix in values:
        return f"{fmt(values[key])} / {fmt(values[key + suffix])}"
    return fmt(values[key])


def class_label(names: Sequence[str]) -> Callable[[str], str]:
    """Class index (as a metrics key) -> its name; the key itself when unknown."""
    def label(key: str) -> str:
        return names[int(key)] if key.isdigit() and int(key) < len(names) else str(key)

    return label


def sanitised(name: str) -> str:
    """A class name as the invert stage writes it into a grid's file name."""
    return name.replace("/", "-").replace(" ", "_")


def class_names_from_grids(grids: Path | None, known: Sequence[str] = ()) -> list[str]:
    """Class names in index order from the invert stage's grid files (`NN_Name.png`): each name
    spelled as in `known` when one of those sanitises to it, else with '_' read as a space."""
    if grids is None or not grids.is_dir():
        return []
    spelled = {sanitised(n): n for n in known}
    found: dict[int, str] = {}
    for path in grids.glob("*.png"):
        match = re.fullmatch(r"(\d+)_(.+)", path.stem)
        if match:
            found[int(match[1])] = spelled.get(match[2], match[2].replace("_", " "))
    if not found or sorted(found) != list(range(len(found))):
        return []
    return [found[i] for i in range(len(found))]


def not_run(title: str, what: str, anchor: str = "", how: str = "") -> Section:
    return Section(title, status=NOT_RUN, note=f"{what}: not run (no outputs found).", anchor=anchor, how=how)


def worse(a: str, b: str) -> str:
    return a if STATUS_RANK.get(a, 2) >= STATUS_RANK.get(b, 2) else b


# --- the pipeline's sections --------------------------------------------------------------------

HOW_CLASSIFIER = ("Accuracy of the audited classifier on the held-out test split, overall and per class. "
                  "In the confusion matrix rows are the true class and columns the prediction: weight off the "
                  "diagonal is a pair of classes the model confuses.")
CLASSIFIER_ROWS = (("test_accuracy", "test accuracy"), ("val_accuracy", "validation accuracy"),
                   ("worst_class", "worst class"), ("worst_class_accuracy", "worst class's accuracy"),
                   ("epochs", "epochs"), ("parameters", "parameters"), ("train_seconds", "training time (s)"))
ONNX_ROWS = (("argmax_agreement", "same answer as PyTorch (share of test images)"),
             ("max_abs_diff", "largest logit difference"), ("num_compared", "test images compared"),
             ("ort_latency_ms_b1", "onnxruntime latency, 1 image (ms)"),
             ("torch_latency_ms_b1", "PyTorch latency, 1 image (ms)"), ("ort_speedup_b1", "speed-up, 1 image"),
             ("ort_latency_ms_b256", "onnxruntime latency, 256 images (ms)"),
             ("torch_latency_ms_b256", "PyTorch latency, 256 images (ms)"), ("onnx_bytes", "model file (bytes)"))


def classifier_section(metrics_path: Path | None, confusion: Path | None, onnx_path: Path | None,
                       class_names: Sequence[str] = ()) -> Section:
    metrics = read_json(metrics_path)
    if metrics is None:
        return not_run("Classifier", "training", anchor="classifier", how=HOW_CLASSIFIER)
    tables = [labelled_table(metrics, CLASSIFIER_ROWS, "The classifier")]
    per_class = metrics.get("per_class_accuracy")
    if isinstance(per_class, Mapping):
        order = [n for n in class_names if n in per_class] + [n for n in per_class if n not in class_names]
        worst = min(per_class, key=lambda n: per_class[n]) if per_class else None
        tables.append(Table("Test accuracy per class", ["class", "accuracy"],
                            [[n, Badge(fmt(per_class[n]) + " (worst)", MEASURED) if n == worst else fmt(per_class[n])]
                             for n in order]))
    onnx = read_json(onnx_path)
    if onnx is not None:
        tables.append(labelled_table(onnx, ONNX_ROWS, "ONNX export: parity and latency"))
    return Section("Classifier", status=MEASURED, tables=tables, anchor="classifier", how=HOW_CLASSIFIER,
                   figures=figure(confusion, "Confusion matrix (test split): rows true class, columns prediction",
                                  size="half"))


HOW_INVERSION = ("A generator was trained from the classifier alone, never seeing a training image; the pictures "
                 "put its samples (left) beside real test images of the same class (right). 'Judge agrees' is how "
                 "often an independently trained classifier gives a sample its intended class: high means the "
                 "model keys on features a person would recognise. In cells with two numbers the second is real "
                 "images measured the same way, the ceiling to compare with.")
INVERSION_SUMMARY = (("fidelity", "the classifier gives the intended class"),
                     ("fidelity_onnx", "the same, ONNX export"),
                     ("eval_agreement", "the judge gives the intended class"),
                     ("eval_agreement_heldout", "the held-out judge gives the intended class"),
                     ("kid_eval", "KID to real images (judge features; lower is closer)"),
                     ("num_samples", "samples"), ("steps", "generator steps"),
                     ("train_seconds", "generator training (s)"))
INVERSION_COLUMNS = (("eval_agreement", "judge agrees"), ("eval_agreement_heldout", "held-out judge agrees"),
                     ("precision", "precision"), ("recall", "recall"), ("density", "density"),
                     ("coverage", "coverage"), ("diversity_cosine", "diversity (cosine)"),
                     ("pixel_spread_ratio", "pixel spread ÷ real"), ("fid_eval", "FID (judge features)"))


def inversion_class_table(quality: Mapping[str, Any], class_names: Sequence[str] = (),
                          caption: str = "Per class (generated / real where there are two numbers)") -> Table:
    """One row per class (by name), one column per quality metric, then a row for all classes."""
    per_class = quality.get("per_class")
    tree: dict[str, Mapping[str, Any]] = dict(per_class) if isinstance(per_class, Mapping) else {}
    tree = dict(sorted(tree.items(), key=lambda kv: (not kv[0].isdigit(), int(kv[0]) if kv[0].isdigit() else 0)))
    present = [(k, h) for k, h in INVERSION_COLUMNS if any(k in v for v in (*tree.values(), quality)
                                                          if isinstance(v, Mapping))]
    headers, rows = pivot(tree, present, class_label(class_names), cell=with_real, corner="class")
    rows.append(["all classes", *(with_real(quality, k) for k, _ in present)])
    return Table(caption, headers, rows)


def inversion_section(metrics_path: Path | None, samples_dir: Path | None, max_grids: int,
                      class_names: Sequence[str] = ()) -> Section:
    """The generated samples beside real ones, the summary, the per-class table; the grids of the
    `max_grids` classes the held-out judge agrees with least (the overview already shows every class)."""
    metrics = read_json(metrics_path)
    if metrics is None:
        return not_run("Network inversion", "inversion", anchor="inversion", how=HOW_INVERSION)
    figures = figure(samples_dir / "overview.png" if samples_dir else None,
                     "Generated samples (left) beside real test images of the same class (right), one row per class")
    grids = {}
    if samples_dir and (samples_dir / "grids").is_dir():
        for path in (samples_dir / "grids").glob("*.png"):
            match = re.match(r"(\d+)_", path.stem)
            grids[int(match[1]) if match else path.stem] = path
    per_class = metrics.get("per_class") if isinstance(metrics.get("per_class"), Mapping) else {}

    def agreement(index: Any) -> float:
        values = per_class.get(str(index), {})
        return values.get("eval_agreement_heldout", values.get("eval_agreement", math.inf))

    label = class_label(class_names)
    worst = sorted(grids, key=lambda i: (agreement(i), str(i)))[:max_grids]
    for index in worst:
        name = label(str(index))
        judged = per_class.get(str(index), {})
        said = (f": held-out judge agrees on {fmt(judged['eval_agreement_heldout'])}"
                if "eval_agreement_heldout" in judged else "")
        figures += figure(grids[index], f"{name}{said}; generated (left), real (right)", size="third",
                          pixelated=True)
    note = (f"The per-class grids below are the {len(worst)} classes the held-out judge agrees with least."
            if worst else "")
    tables = [labelled_table(metrics, INVERSION_SUMMARY, "Inversion, all classes")]
    if per_class:
        tables.append(inversion_class_table(metrics, class_names))
    return Section("Network inversion", status=MEASURED, note=note, tables=tables, figures=figures,
                   anchor="inversion", how=HOW_INVERSION)


DISTILL_ROWS = (("student_accuracy_samples", "the released samples (fixed set)"),
                ("student_accuracy_online", "fresh samples from the generator every step"),
                ("real_same_count", "real training images, as many as the samples (ceiling)"),
                ("noise_floor", "uniform noise, as many as the samples (floor)"),
                ("teacher_accuracy", "the classifier itself (teacher)"))
HOW_DISTILL = ("A student of another architecture learns the classifier's answers on each source only, with one "
               "recipe; its accuracy on real test images says how much of what the model knows its samples carry. "
               "Read the samples' row between the noise floor and the real-data ceiling.")


def distill_section(metrics_path: Path | None) -> Section:
    """How much of the classifier's knowledge the samples carry: a fresh student's test accuracy per source."""
    metrics = read_json(metrics_path)
    if metrics is None:
        return not_run("Distillation from the samples", "distill", anchor="distill", how=HOW_DISTILL)
    rows = [[what, fmt(metrics.get(key))] for key, what in DISTILL_ROWS if key in metrics]
    samples, ceiling, floor = (metrics.get(k) for k in ("student_accuracy_samples", "real_same_count", "noise_floor"))
    note = ""
    if None not in (samples, ceiling, floor) and ceiling > floor:
        note = f"The samples close {(samples - floor) / (ceiling - floor):.0%} of the gap from floor to ceiling."
    return Section("Distillation from the samples", status=MEASURED, note=note, anchor="distill", how=HOW_DISTILL,
                   tables=[Table("Student test accuracy by training source", ["source", "test accuracy"], rows)])


HOW_VALIDATION = ("Automated checks on the generated samples, each against its threshold. A failed critical check "
                  "stops the pipeline (and fails an audit); a failed warning is reported only.")
# check name -> (threshold key, what is measured, comparison, how the observed value reads)
SAMPLE_CHECKS: dict[str, tuple[str | None, str, str, str]] = {
    "fidelity": ("min_fidelity", "the classifier gives the intended class", "≥", "share"),
    "eval_agreement": ("min_eval_agreement", "the independent judge gives the intended class", "≥", "share"),
    "classifier_confidence": ("min_confidence", "mean classifier confidence", "≥", "value"),
    "label_balance_kl": ("max_label_kl", "intended classes balanced: KL to uniform", "≤", "value"),
    "pixel_mean_distribution_kl": ("max_pixel_mean_kl", "image brightness like real data's: KL", "≤", "value"),
    "within_class_diversity": ("min_diversity_ratio", "distance to the nearest sample of the same class", "≥ × real",
                               "value"),
    "pixel_min_in_range": (None, "darkest pixel within [0, 255]", "all", "outside"),
    "pixel_max_in_range": (None, "brightest pixel within [0, 255]", "all", "outside"),
    "no_nan_pixels": (None, "no missing pixel values", "all", "outside"),
}


def _threshold(thresholds: Any, key: str | None) -> tuple[float | None, str | None]:
    """(value, severity) of `key` in a SampleThresholds-like object or mapping."""
    if thresholds is None or key is None:
        return None, None
    found = thresholds.get(key) if isinstance(thresholds, Mapping) else getattr(thresholds, key, None)
    if found is None:
        return None, None
    if isinstance(found, Mapping):
        return found.get("value"), found.get("severity")
    return getattr(found, "value", None), getattr(found, "severity", None)


def observed_text(observed: Any, reads: str) -> str:
    """A check's observed value in words: 'share' and 'outside' checks report unexpected percentages."""
    if isinstance(observed, Mapping) and "unexpected_percent" in observed:
        bad = observed["unexpected_percent"]
        if not isinstance(bad, int | float):
            return "—"
        return f"{fmt(100.0 - bad)}% of samples" if reads == "share" else f"{fmt(bad)}% of samples fail"
    if isinstance(observed, Mapping | list):
        return "—"
    return fmt(observed)


def validation_rows(result: Mapping[str, Any], thresholds: Any = None) -> list[list[Any]]:
    """check | observed | threshold | severity | result, for a suite result (netinv.validation.suite)."""
    real_distance = result.get("real_nearest_same_class_distance")
    rows = []
    for name, check in result.get("checks", {}).items():
        key, what, op, reads = SAMPLE_CHECKS.get(name, (None, name, "", "value"))
        value, _ = _threshold(thresholds, key)
        if op == "all":
            threshold = "none"
        elif value is None:
            threshold = "—"
        elif op == "≥ × real":
            threshold = f"≥ {fmt(value)} × real ({fmt(real_distance)})" if real_distance else f"≥ {fmt(value)} × real"
            if real_distance:
                threshold += f" = {fmt(value * real_distance)}"
        elif reads == "share":
            threshold = f"≥ {pct(value)}"
        else:
            threshold = f"{op} {fmt(value)}"
        severity = check.get("severity", "")
        if check.get("success"):
            verdict = Badge("pass", "ok")
        else:
            verdict = Badge("FAIL" if severity == "critical" else "warn",
                            "failed" if severity == "critical" else "warning")
        rows.append([f"{what} ({name})" if name in SAMPLE_CHECKS else name,
                     observed_text(check.get("observed"), reads), threshold, severity, verdict])
    return rows


def validation_section(path: Path | None, title: str = "Validation of the generated samples",
                       thresholds: Any = None) -> Section:
    result = read_json(path)
    if result is None:
        return not_run(title, "sample validation", anchor="validation", how=HOW_VALIDATION)
    return suite_section(result, title, thresholds)


def suite_section(result: Mapping[str, Any], title: str, thresholds: Any = None) -> Section:
    critical, warnings = result.get("critical_failures", []), result.get("warnings", [])
    status = "failed" if critical else "warning" if warnings else "ok"
    note = (f"Critical failures: {', '.join(critical)}. " if critical else "All critical checks pass. ") + (
        f"Warnings: {', '.join(warnings)}." if warnings else "")
    return Section(title, status=status, note=note.strip(), anchor="validation", how=HOW_VALIDATION,
                   tables=[Table("Checks", ["check", "observed", "threshold", "severity", "result"],
                                 validation_rows(result, thresholds))])


HOW_OOD = ("A second model was trained with an extra 'garbage' class, fed round by round with inverted samples (the "
           "pool picture). AUROC says how well a score ranks unfamiliar inputs above real test images (1 perfect, "
           "0.5 chance); FPR95 is the share of unfamiliar inputs still accepted when 95% of real ones are (lower is "
           "better). The decision-rule table is what the model does as deployed: how often it answers 'garbage'.")
OOD_SETS = {"mnist": "MNIST digits", "gaussian": "Gaussian noise", "uniform": "uniform noise"}
OOD_METHODS = {"garbage": "garbage class: p(garbage)", "garbage_ue": "garbage class: its rule, then uncertainty",
               "msp": "max softmax probability", "maxlogit": "max logit", "energy": "energy",
               "mahalanobis": "Mahalanobis", "knn": "nearest neighbours (kNN)", "vim": "ViM"}


def ood_method_table(methods: Mapping[str, Mapping[str, Any]], best: str | None = None,
                     caption: str = "AUROC / FPR95 by method (rows) and unfamiliar set (columns)") -> Table:
    """Method × OOD set, each cell 'AUROC / FPR95', then each method's mean AUROC."""
    sets = list(dict.fromkeys(s for table in methods.values() for s, v in table.items() if isinstance(v, Mapping)))

    def cell(values: Mapping[str, Any], key: str) -> str:
        if key == "mean_auroc":
            return fmt(values[key]) if key in values else "—"
        found = values.get(key)
        if not isinstance(found, Mapping):
            return "—"
        return f"{fmt(found.get('auroc'))} / {fmt(found.get('fpr95'))}"

    def label(method: str) -> str:
        return OOD_METHODS.get(method, method) + (" (best)" if method == best else "")

    headers, rows = pivot(methods, [*((s, OOD_SETS.get(s, s)) for s in sets), ("mean_auroc", "mean AUROC")],
                          label, cell, corner="method")
    return Table(caption, headers, rows)


def decision_rule_table(metrics: Mapping[str, Any]) -> Table | None:
    """How often the garbage model answers 'garbage' (its own argmax rule) on real test images and each OOD set."""
    ood = metrics.get("ood_rejection_rate")
    if not isinstance(ood, Mapping):
        return None
    rows: list[list[Any]] = []
    id_rate = (metrics.get("id_rejection_rate") or {}).get("garbage")
    if id_rate is not None:
        rows.append(["real test images (should be kept)", pct(id_rate), "near 0%"])
    for name, rate in ood.items():
        rows.append([f"{OOD_SETS.get(name, name)} (should be rejected)", pct(rate), "near 100%"])
    return Table("The garbage model's own decision rule: share of inputs it sends to the garbage class",
                 ["inputs", "sent to garbage", "wanted"], rows)


def ood_section(metrics_path: Path | None, plots_dir: Path | None, pool_dir: Path | None = None) -> Section:
    """The decision-rule rejection rates, accuracy, method × set table; the pool's rounds
    (`pool_dir`/pool_rounds.png), score histograms (scores.png, in `pool_dir` or `plots_dir`), the most
    confidently accepted OOD inputs (`pool_dir`/accepted.png) and the ROC curves (`plots_dir`/roc.png)."""
    metrics = read_json(metrics_path)
    if metrics is None:
        return not_run("Out-of-distribution detection", "OOD detection", anchor="ood", how=HOW_OOD)
    tables, notes = [], []
    rule = decision_rule_table(metrics)
    if rule is not None:
        tables.append(rule)
    accuracy = metrics.get("id_accuracy")
    if isinstance(accuracy, Mapping):
        tables.append(labelled_table(accuracy, (("plain", "the classifier"), ("garbage", "the garbage model")),
                                     "Test accuracy over the real classes", ("model", "accuracy")))
    methods = metrics.get("methods")
    if isinstance(methods, Mapping):
        tables.append(ood_method_table(methods, metrics.get("best_method")))
        garbage = methods.get("garbage", {})
        for name, rate in (metrics.get("ood_rejection_rate") or {}).items():
            auroc = garbage.get(name, {}).get("auroc") if isinstance(garbage.get(name), Mapping) else None
            if rate < 0.95 and auroc is not None:
                notes.append(f"At its own decision rule the garbage model sends only {pct(rate)} of "
                             f"{OOD_SETS.get(name, name)} to the garbage class, although its p(garbage) separates "
                             f"them from real images with AUROC {fmt(auroc)}: the score ranks well, the default "
                             "threshold (argmax) accepts most of them.")
    figures = figure(pool_dir / "pool_rounds.png" if pool_dir else None,
                     "The garbage pool round by round: row 1 the initial noise, then the inverted samples each round "
                     "added (columns: the class they were inverted for, garbage last)", pixelated=False)
    scores = next((d / "scores.png" for d in (pool_dir, plots_dir) if d and (d / "scores.png").is_file()), None)
    figures += figure(scores, "Scores of real test images against each unfamiliar set, with the threshold that keeps "
                              "95% of real images")
    figures += figure(pool_dir / "accepted.png" if pool_dir else None,
                      "The unfamiliar inputs the model accepts most confidently (lowest OOD score)", size="half")
    figures += figure(plots_dir / "roc.png" if plots_dir else None, "ROC curves, one panel per unfamiliar set")
    return Section("Out-of-distribution detection", status=MEASURED, note=" ".join(notes), tables=tables,
                   figures=figures, anchor="ood", how=HOW_OOD)


HOW_RECONSTRUCTION = ("An attacker tries to rebuild training images from the model's weights. Only the gap counts: "
                      "how much better reconstructions match training images than held-out images of the same "
                      "classes, with its 95% interval; an interval above 0 is leakage. The positive control is a "
                      "model made to memorise, to show the attack can succeed; 'surrogate' rows are small models "
                      "trained on subsets of the training split, not the audited classifier.")
ATTACKED = {"audited_model": "The audited classifier itself",
            "positive_control": "Positive control (an MLP made to memorise)"}


def interval(values: Mapping[str, Any], gap: str, low: str, high: str, signed: bool = True) -> str:
    if gap not in values:
        return "—"
    sign = "+" if signed else ""
    text = f"{values[gap]:{sign}.3g}"
    if low in values and high in values:
        text += f" [{values[low]:{sign}.3g}, {values[high]:{sign}.3g}]"
    return text


def reconstruction_rows(metrics: Mapping[str, Any]) -> list[list[Any]]:
    """One row per attacked model: the audited classifier, the positive control, then the surrogates by size."""
    def order(key: str) -> tuple[int, int, str]:
        return (list(ATTACKED).index(key) if key in ATTACKED else len(ATTACKED),
                int(key) if key.isdigit() else 0, key)

    rows = []
    for key in sorted((k for k, v in metrics.items() if isinstance(v, Mapping)), key=order):
        v = metrics[key]
        target = ATTACKED.get(key, f"Surrogate trained on {key} images (not the audited model)")
        kind = "audited" if key == "audited_model" else "control" if key == "positive_control" else "surrogate"
        recovered = (f"{pct(v['recovered_frac_train'])} / {pct(v['recovered_frac_control'])}"
                     if "recovered_frac_train" in v else "—")
        ssim = (f"{fmt(v['ssim_train_mean'])} / {fmt(v['ssim_control_mean'])}" if "ssim_train_mean" in v else "—")
        accuracy = (f"{fmt(v['target_train_accuracy'])} / {fmt(v['target_test_accuracy'])}"
                    if "target_train_accuracy" in v else "—")
        rows.append([target, kind, fmt(v.get("size", "—")), accuracy, ssim,
                     interval(v, "leakage_gap", "gap_ci_low", "gap_ci_high"), recovered,
                     interval(v, "recovered_gap", "recovered_ci_low", "recovered_ci_high"),
                     fmt(v.get("gap_p_value", "—"))])
    return rows


RECONSTRUCTION_COLUMNS = ["attacked model", "kind", "training images", "accuracy train / test",
                          "mean SSIM train / held-out", "SSIM gap [95% CI]", "recovered train / held-out",
                          "recovered gap [95% CI]", "p"]


def reconstruction_section(metrics_path: Path | None, outputs_dir: Path | None, plots_dir: Path | None) -> Section:
    metrics = read_json(metrics_path)
    if metrics is None:
        return not_run("Training-data reconstruction", "reconstruction", anchor="reconstruction",
                       how=HOW_RECONSTRUCTION)
    figures: list[Figure] = []
    if outputs_dir is not None and outputs_dir.is_dir():
        for key, what in ATTACKED.items():
            figures += figure(outputs_dir / key / "recovery.png",
                              f"{what}: reconstruction, nearest training image, nearest held-out image, sorted by SSIM",
                              size="quarter")
        sizes = sorted((d for d in outputs_dir.iterdir() if d.is_dir() and d.name not in ATTACKED),
                       key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name))
        for size in sizes:
            figures += figure(size / "pairs.png", f"Surrogate trained on {size.name} images (not the audited model): "
                                                  "reconstruction and nearest image", size="quarter")
    figures += figure(plots_dir / "leakage.png" if plots_dir else None,
                      "Surrogate targets: leakage against training-set size (not the audited model)", size="half")
    verdicts = [metrics[key]["verdict"] for key in ATTACKED if isinstance(metrics.get(key), Mapping)
                and metrics[key].get("verdict")]
    recovered = next((f" A training image counts as recovered above SSIM {fmt(v['recovered_threshold'])}."
                      for v in metrics.values() if isinstance(v, Mapping) and "recovered_threshold" in v), "")
    return Section("Training-data reconstruction", status=MEASURED, note=" ".join(verdicts) + recovered,
                   tables=[Table("Who was attacked, and what the attack recovered", RECONSTRUCTION_COLUMNS,
                                 reconstruction_rows(metrics))],
                   figures=figures, anchor="reconstruction", how=HOW_RECONSTRUCTION)


# --- rendering ----------------------------------------------------------------------------------

@dataclass
class CardLine:
    topic: str
    status: str  # pass | warn | fail | not run
    value: str
    threshold: str
    sentence: str
    anchor: str


def card_lines(verdicts: Sequence[Verdict], sections: Sequence[Section]) -> list[CardLine]:
    """The card's lines: each verdict linked to its section (its anchor, else its topic's first section on
    the page); a topic of audit.verdict.TOPICS without a verdict gets a 'not run' line."""
    ids = [s.id for s in sections]

    def link(topic: str, anchor: str) -> str:
        if anchor in ids:
            return anchor
        return next((a for a in TOPIC_ANCHORS.get(topic, ()) if a in ids), "")

    lines = [CardLine(v.topic, v.status, v.value, v.threshold, v.sentence, link(v.topic, v.anchor))
             for v in verdicts]
    covered = {v.topic for v in verdicts}
    if verdicts:
        lines += [CardLine(t, NOT_RUN, "—", "—", "No verdict was computed for this question.", link(t, ""))
                  for t in TOPIC_ANCHORS if t not in covered]
    return lines


def judged_sections(sections: Sequence[Section], lines: Sequence[CardLine]) -> list[Section]:
    """Each section a verdict links to, with the worse of its own status and the verdict's."""
    out = []
    for s in sections:
        status = s.status
        for line in lines:
            if line.anchor == s.id and status != NOT_RUN and line.status != NOT_RUN:
                status = worse(status, VERDICT_STATUS.get(line.status, "ok"))
        out.append(s if status == s.status else replace(s, status=status))
    return out


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.2rem auto; max-width: 78rem; color: #222; padding: 0 1rem;
       line-height: 1.35; }
h1 { margin: 0 0 .2rem; font-size: 1.6rem; } .meta { color: #666; font-size: .85rem; margin: 0 0 .6rem; }
h2 { font-size: 1.25rem; margin: .3rem 0; }
section { border-top: 1px solid #ddd; margin-top: 1.4rem; padding-top: .4rem; }
.status { display: inline-block; font-size: .8rem; padding: .1rem .55rem; border-radius: .6rem; margin-left: .5rem;
          vertical-align: middle; font-weight: 600; }
.ok, .pass { background: #2e7d32; color: #fff; } .failed, .fail { background: #c62828; color: #fff; }
.warning, .warn { background: #f9a825; color: #222; } .not-run { background: #9e9e9e; color: #fff; }
.measured { background: #dbe4f0; color: #234; }
.card .pass, .card .ok { background: #1b5e20; } .card .fail, .card .failed { background: #b71c1c; }
.card .warn, .card .warning { background: #f57f17; }
.card { border: 2px solid #444; border-radius: .5rem; padding: .5rem .8rem .6rem; margin: .4rem 0 .8rem;
        background: #fafafa; }
.card h2 { margin: 0 0 .3rem; }
.card table { width: 100%; margin: 0; font-size: .92rem; }
.card td.badge { width: 5.5rem; text-align: center; }
.card td.topic { width: 11rem; font-weight: 600; }
.card td.badge .status { margin: 0; width: 4.4rem; text-align: center; }
.gate { margin: .4rem 0 0; font-weight: 600; }
nav.toc { font-size: .9rem; margin: 0 0 .4rem; }
nav.toc ol { margin: .2rem 0; padding-left: 1.4rem; columns: 2; }
nav.toc .status { font-size: .7rem; padding: 0 .4rem; margin-left: .3rem; }
.how { background: #f2f5f9; border-left: 4px solid #8aa4c8; padding: .3rem .6rem; font-size: .9rem; margin: .4rem 0; }
.tables { display: flex; flex-wrap: wrap; gap: .4rem 1.6rem; align-items: flex-start; }
.tbl { max-width: 100%; } .tbl p.caption { font-weight: 600; margin: .5rem 0 .2rem; }
table { border-collapse: collapse; margin: 0 0 .4rem; font-size: .88rem; }
th, td { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td .status { margin-left: 0; }
.figures { display: flex; flex-wrap: wrap; gap: .6rem; align-items: flex-start; }
figure { margin: .3rem 0; flex: 0 0 100%; }
figure.half { flex: 0 0 calc(50% - .6rem); } figure.third { flex: 0 0 calc(33.3% - .6rem); }
figure.quarter { flex: 0 0 calc(25% - .6rem); }
figure img { max-width: 100%; height: auto; display: block; }
figure.pixelated img { image-rendering: pixelated; }
figcaption { font-size: .8rem; color: #555; }
</style></head>
<body>
<h1>{{ title }}</h1>
<p class="meta">{% for key, value in meta %}{{ key }}: {{ value }}{% if not loop.last %} · {% endif %}{% endfor %}</p>
{% if lines or verdict %}
<div class="card" id="verdict-card">
<h2>Verdict{% if overall %} <span class="status {{ overall | replace(' ', '-') }}">{{ overall }}</span>{% endif %}</h2>
{% if lines %}<table>
<tr><th>question</th><th>result</th><th>measured</th><th>threshold</th><th>in one sentence</th></tr>
{% for v in lines %}<tr class="verdict">
<td class="topic">{% if v.anchor %}<a href="#{{ v.anchor }}">{{ v.topic }}</a>{% else %}{{ v.topic }}{% endif %}</td>
<td class="badge"><span class="status {{ v.status | replace(' ', '-') }}">{{ v.status }}</span></td>
<td>{{ v.value }}</td><td>{{ v.threshold }}</td><td>{{ v.sentence }}</td></tr>
{% endfor %}</table>{% endif %}
{% if verdict %}<p class="gate">Gate: <span class="status {{ verdict_class }}">{{ verdict }}</span></p>{% endif %}
</div>
{% endif %}
<nav class="toc"><strong>Contents</strong><ol>
{% for s in sections %}<li><a href="#{{ s.id }}">{{ s.title }}</a><span class="status {{ s.status | replace(' ', '-') }}">{{ s.status }}</span></li>
{% endfor %}</ol></nav>
{% for s in sections %}
<section id="{{ s.id }}">
<h2>{{ s.title }}<span class="status {{ s.status | replace(' ', '-') }}">{{ s.status }}</span></h2>
{% if s.how %}<p class="how"><strong>How to read this.</strong> {{ s.how }}</p>{% endif %}
{% if s.note %}<p>{{ s.note }}</p>{% endif %}
{% if s.tables %}<div class="tables">
{% for t in s.tables %}<div class="tbl"><p class="caption">{{ t.caption }}</p><table>
<tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for cell in row %}<td>{% if cell is badge %}<span class="status {{ cell.status | replace(' ', '-') }}">{{ cell.text }}</span>{% else %}{{ cell }}{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table></div>
{% endfor %}</div>{% endif %}
{% if s.figures %}<div class="figures">
{% for f in s.figures %}<figure class="{{ f.size }}{% if f.pixelated %} pixelated{% endif %}"><img src="{{ f.uri }}" alt="{{ f.caption }}"><figcaption>{{ f.caption }}</figcaption></figure>
{% endfor %}</div>{% endif %}
</section>
{% endfor %}
</body></html>
"""


def render(title: str, sections: Sequence[Section], meta: Sequence[tuple[str, str]] = (),
           verdict: str | None = None, verdict_ok: bool = True, verdicts: Sequence[Verdict] = ()) -> str:
    """The page: title, meta line, the verdict card (`verdicts`, and the `verdict` gate line when
    given), the contents, the sections (a section a verdict links to wears the worse status)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.tests["badge"] = lambda cell: isinstance(cell, Badge)
    for s in sections:
        for f in s.figures:
            if not re.fullmatch(r"data:image/png;base64,[A-Za-z0-9+/=]+", f.uri):
                raise ValueError(f"figure {f.caption!r} is not an embedded PNG: the report must be self-contained")
    lines = card_lines(verdicts, sections)
    sections = judged_sections(sections, lines)
    ranks = {"pass": 2, "warn": 3, "fail": 4}
    judged = [line.status for line in lines if line.status in ranks]
    overall = max(judged, key=ranks.__getitem__) if judged else None
    if verdict is not None and not verdict_ok:
        overall = "fail"
    return env.from_string(TEMPLATE).render(title=title, sections=sections, meta=list(meta), verdict=verdict,
                                            verdict_class="ok" if verdict_ok else "failed", lines=lines,
                                            overall=overall)
