"""The HTML report as library code: tables, figures and sections rendered to one self-contained page.

Used by the pipeline's `report` stage (stages/report.py: the pipeline's sections below) and
by the audit (audit/outcome.py: an audit's sections, audit/probes.py: a probe's own section).
Images are embedded as base64 PNG, nothing is fetched, no script; all text is escaped
(jinja2 autoescape). A section whose inputs are missing says "not run".
Imports nothing of the project.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NOT_RUN = "not run"


@dataclass
class Table:
    caption: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Figure:
    caption: str
    uri: str  # data:image/png;base64,...


@dataclass
class Section:
    title: str
    status: str = "ok"  # ok | not run | failed | warning
    note: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


def png_uri(path: str | Path) -> str:
    data = Path(path).read_bytes()
    if not data.startswith(b"\x89PNG"):
        raise ValueError(f"{path} is not a PNG file")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure(path: str | Path | None, caption: str) -> list[Figure]:
    """The PNG at `path` as an embedded figure, or nothing when it does not exist."""
    if path is None or not Path(path).is_file():
        return []
    return [Figure(caption, png_uri(path))]


def read_json(path: str | Path | None) -> dict[str, Any] | None:
    if path is None or not Path(path).is_file():
        return None
    return json.loads(Path(path).read_text())


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


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


def not_run(title: str, what: str) -> Section:
    return Section(title, status=NOT_RUN, note=f"{what}: not run (no outputs found).")


# --- the pipeline's sections --------------------------------------------------------------------

def classifier_section(metrics_path: Path | None, confusion: Path | None, onnx_path: Path | None) -> Section:
    metrics = read_json(metrics_path)
    if metrics is None:
        return not_run("Classifier", "training")
    summary = {k: metrics[k] for k in ("test_accuracy", "val_accuracy", "worst_class", "worst_class_accuracy",
                                       "epochs", "parameters", "train_seconds") if k in metrics}
    tables = [metrics_table(summary, "Classifier metrics")]
    if isinstance(metrics.get("per_class_accuracy"), Mapping):
        tables.append(Table("Accuracy per class", ["class", "accuracy"],
                            [[c, fmt(a)] for c, a in metrics["per_class_accuracy"].items()]))
    onnx = read_json(onnx_path)
    if onnx is not None:
        tables.append(metrics_table(onnx, "ONNX export: parity and latency"))
    return Section("Classifier", tables=tables, figures=figure(confusion, "Confusion matrix (test split)"))


def inversion_section(metrics_path: Path | None, samples_dir: Path | None, max_grids: int) -> Section:
    metrics = read_json(metrics_path)
    if metrics is None:
        return not_run("Network inversion", "inversion")
    figures = figure(samples_dir / "overview.png" if samples_dir else None, "Generated samples, one row per class")
    grids = sorted((samples_dir / "grids").glob("*.png")) if samples_dir and (samples_dir / "grids").is_dir() else []
    for grid in grids[:max_grids]:
        figures += figure(grid, f"Class {grid.stem}")
    tables = [metrics_table(metrics, "Inversion quality", skip=("per_class",))]
    if isinstance(metrics.get("per_class"), Mapping):
        tables.append(metrics_table(metrics["per_class"], "Per class"))
    return Section("Network inversion", tables=tables, figures=figures)


DISTILL_ROWS = (("student_accuracy_samples", "the released samples (fixed set)"),
                ("student_accuracy_online", "fresh samples from the generator every step"),
                ("real_same_count", "real training images, as many as the samples (ceiling)"),
                ("noise_floor", "uniform noise, as many as the samples (floor)"),
                ("teacher_accuracy", "the classifier itself (teacher)"))


def distill_section(metrics_path: Path | None) -> Section:
    """How much of the classifier's knowledge the samples carry: a fresh student's test accuracy per source."""
    metrics = read_json(metrics_path)
    if metrics is None:
        return not_run("Distillation from the samples", "distill")
    rows = [[what, fmt(metrics.get(key))] for key, what in DISTILL_ROWS if key in metrics]
    samples, ceiling, floor = (metrics.get(k) for k in ("student_accuracy_samples", "real_same_count", "noise_floor"))
    note = ("A student of another architecture learns the classifier's answers on each source only, with one "
            "recipe; its accuracy on real test images says how much of what the model knows its samples carry. "
            "Read the samples' row between the noise floor and the real-data ceiling.")
    if None not in (samples, ceiling, floor) and ceiling > floor:
        note += f" The samples close {(samples - floor) / (ceiling - floor):.0%} of the gap from floor to ceiling."
    return Section("Distillation from the samples", note=note,
                   tables=[Table("Student test accuracy by training source", ["source", "test accuracy"], rows)])


def validation_section(path: Path | None, title: str = "Validation of the generated samples") -> Section:
    result = read_json(path)
    if result is None:
        return not_run(title, "sample validation")
    return suite_section(result, title)


def suite_section(result: Mapping[str, Any], title: str) -> Section:
    rows = [[name, check.get("severity", ""), "pass" if check.get("success") else "FAIL", fmt(check.get("observed"))]
            for name, check in result.get("checks", {}).items()]
    critical, warnings = result.get("critical_failures", []), result.get("warnings", [])
    status = "failed" if critical else "warning" if warnings else "ok"
    note = (f"Critical failures: {', '.join(critical)}. " if critical else "All critical checks pass. ") + (
        f"Warnings: {', '.join(warnings)}." if warnings else "")
    return Section(title, status=status, note=note,
                   tables=[Table("Expectations", ["check", "severity", "result", "observed"], rows)])


def ood_section(metrics_path: Path | None, plots_dir: Path | None) -> Section:
    metrics = read_json(metrics_path)
    if metrics is None:
        return not_run("Out-of-distribution detection", "OOD detection")
    figures = figure(plots_dir / "roc.png" if plots_dir else None, "ROC curves")
    return Section("Out-of-distribution detection", tables=[metrics_table(metrics, "OOD metrics")], figures=figures)


ATTACKED = {"positive_control": "Positive control (an MLP made to memorise)",
            "audited_model": "The audited classifier itself"}


def reconstruction_section(metrics_path: Path | None, outputs_dir: Path | None, plots_dir: Path | None) -> Section:
    metrics = read_json(metrics_path)
    if metrics is None:
        return not_run("Training-data reconstruction", "reconstruction")
    figures = figure(plots_dir / "leakage.png" if plots_dir else None, "Leakage against training-set size")
    if outputs_dir is not None and outputs_dir.is_dir():
        sizes = sorted((d for d in outputs_dir.iterdir() if d.is_dir()),
                       key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name))
        for size in sizes:
            if size.name in ATTACKED:
                figures += figure(size / "recovery.png", f"{ATTACKED[size.name]}: reconstruction, nearest training "
                                                         "image, nearest held-out image, sorted by SSIM")
            else:
                figures += figure(size / "pairs.png", f"Surrogate trained on {size.name} images: reconstruction "
                                                      "and nearest image")
    verdicts = [metrics[key]["verdict"] for key in ATTACKED if isinstance(metrics.get(key), Mapping)
                and metrics[key].get("verdict")]
    note = " ".join(verdicts) + (" The numbered sizes are surrogate targets trained on subsets of the training "
                                 "split, not the audited classifier." if verdicts else "")
    return Section("Training-data reconstruction", note=note,
                   tables=[metrics_table(metrics, "Reconstruction metrics")], figures=figures)


# --- rendering ----------------------------------------------------------------------------------

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #222; padding: 0 1rem; }
h1 { margin-bottom: .2rem; } .meta { color: #666; font-size: .9rem; }
section { border-top: 1px solid #ddd; margin-top: 1.5rem; padding-top: .5rem; }
.status { display: inline-block; font-size: .8rem; padding: .1rem .5rem; border-radius: .6rem; margin-left: .5rem; vertical-align: middle; }
.ok { background: #d8f0d8; } .failed { background: #f6d0d0; } .warning { background: #f7ecc8; }
.not-run { background: #e6e6e6; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
figure { display: inline-block; margin: .4rem; vertical-align: top; }
figure img { max-width: 100%; image-rendering: pixelated; }
figcaption { font-size: .8rem; color: #555; }
</style></head>
<body>
<h1>{{ title }}</h1>
<p class="meta">{% for key, value in meta %}{{ key }}: {{ value }}{% if not loop.last %} · {% endif %}{% endfor %}</p>
{% if verdict %}<p class="status {{ verdict_class }}">{{ verdict }}</p>{% endif %}
{% for s in sections %}
<section>
<h2>{{ s.title }}<span class="status {{ s.status | replace(' ', '-') }}">{{ s.status }}</span></h2>
{% if s.note %}<p>{{ s.note }}</p>{% endif %}
{% for t in s.tables %}
<table><caption>{{ t.caption }}</caption>
<tr>{% for c in t.columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}
{% for f in s.figures %}<figure><img src="{{ f.uri }}" alt="{{ f.caption }}"><figcaption>{{ f.caption }}</figcaption></figure>
{% endfor %}
</section>
{% endfor %}
</body></html>
"""


def render(title: str, sections: Sequence[Section], meta: Sequence[tuple[str, str]] = (),
           verdict: str | None = None, verdict_ok: bool = True) -> str:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    for s in sections:
        for f in s.figures:
            if not re.fullmatch(r"data:image/png;base64,[A-Za-z0-9+/=]+", f.uri):
                raise ValueError(f"figure {f.caption!r} is not an embedded PNG: the report must be self-contained")
    return env.from_string(TEMPLATE).render(title=title, sections=sections, meta=list(meta), verdict=verdict,
                                            verdict_class="ok" if verdict_ok else "failed")
