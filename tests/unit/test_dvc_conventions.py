"""What DVC's own commands show of the project stays readable (issue 16).

`dvc metrics show` reads only the stages' summaries (metrics/summary/NAME.json: a few numbers,
each file under 160 columns as DVC prints it; the full metrics files are plain outs); the ROC
and learning curves are declared so that DVC draws one line per method; the PNGs are image
plots; the custom templates and the offline page template exist; the ablation is a DVC project
of its own, so `dvc dag` leaves it out.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from netinv.ood.metrics import roc_tables
from stages import (
    common,
    distill,
    export_onnx,
    invert,
    ood,
    prepare,
    reconstruct,
    train,
    validate_samples,
)
from stages.config import load_params

SUMMARY_DIR = "metrics/summary/"
MAX_METRICS_COLUMNS = 160
DVC = [sys.executable, "-m", "dvc"]


def dvc_yaml(root: Path) -> dict:
    return yaml.safe_load((root / "dvc.yaml").read_text())


def declared(entries: list) -> dict[str, dict]:
    """{path: its options} of a dvc.yaml outs / metrics / plots list."""
    out = {}
    for entry in entries or []:
        path, options = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        out[path] = options or {}
    return out


def expanded_stages(root: Path) -> dict[str, dict]:
    """dvc.yaml's stages with foreach expanded (${key} and ${item.*} substituted), as DVC names them."""
    stages = {}
    for name, stage in dvc_yaml(root)["stages"].items():
        if "foreach" not in stage:
            stages[name] = stage
            continue
        for key, item in stage["foreach"].items():
            text = yaml.safe_dump(stage["do"]).replace("${key}", key)
            for field, value in item.items():
                text = text.replace(f"${{item.{field}}}", str(value))
            stages[f"{name}@{key}"] = yaml.safe_load(text)
    return stages


def test_metrics_are_the_summaries_and_each_stage_writes_one(project_root):
    summaries = {}
    for name, stage in expanded_stages(project_root).items():
        metrics = declared(stage.get("metrics"))
        assert all(path.startswith(SUMMARY_DIR) for path in metrics), (name, list(metrics))
        outs = declared(stage.get("outs"))
        full = [p for p in outs if p.startswith("metrics/")]
        for path in full:  # the full files stay, as outs git keeps (cache: false)
            assert outs[path].get("cache") is False, (name, path)
        if not full:  # report: writes no metrics
            assert not metrics, name
            continue
        assert len(metrics) == 1, (name, list(metrics))
        (summary,) = metrics
        assert metrics[summary].get("cache") is False
        assert f"--summary {summary}" in " ".join(stage["cmd"].split()), name
        summaries[name] = summary
    assert len(set(summaries.values())) == len(summaries)  # one file each
    # the flows key metrics files by stem: a summary shares its full file's stem and is skipped there
    assert {Path(p).stem for p in summaries.values()} >= {"classifier", "inversion", "distill", "ood", "validation"}
    assert set(declared(dvc_yaml(project_root).get("metrics"))) == set()  # no top-level metrics either


def test_the_full_metrics_files_keep_their_names(project_root):
    """Others read these (the report, the flows, the audits): they stay where they were."""
    outs = {p for stage in expanded_stages(project_root).values() for p in declared(stage.get("outs"))}
    for name in ("data_profile", "data_validation", "classifier", "evaluator", "heldout", "onnx", "inversion",
                 "distill", "validation", "ood", "reconstruction"):
        assert f"metrics/{name}.json" in outs, name


def summaries_from_full_files(metrics: Path) -> dict[str, dict]:
    """The summary each stage would write, computed from the full files present in `metrics`."""
    def full(name: str) -> dict:
        return json.loads((metrics / f"{name}.json").read_text())

    built = {
        "data": lambda: common.summary_of(prepare.headlines(full("data_profile"), full("data_validation")),
                                          prepare.HEADLINES),
        "onnx": lambda: common.summary_of(full("onnx"), export_onnx.HEADLINES),
        "inversion": lambda: common.summary_of(full("inversion"), invert.HEADLINES),
        "distill": lambda: common.summary_of(full("distill"), distill.HEADLINES),
        "validation": lambda: common.summary_of(validate_samples.headlines(full("validation")),
                                                validate_samples.HEADLINES),
        "ood": lambda: common.summary_of(top := ood.headlines(full("ood")), ood.headline_keys(top)),
        "reconstruction": lambda: common.summary_of(full("reconstruction"),
                                                    reconstruct.headline_keys(full("reconstruction"))),
        **{role: (lambda role=role: common.summary_of(full(role), train.HEADLINES))
           for role in ("classifier", "evaluator", "heldout")},
    }
    out = {}
    for name, build in built.items():
        try:
            out[f"{SUMMARY_DIR}{name}.json"] = build()
        except FileNotFoundError:
            continue
    return out


def leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def dvc_metrics_table(path: str, summary: dict, capsys) -> list[str]:
    """The lines `dvc metrics show PATH` prints for this summary (DVC's own table code)."""
    from dvc.compare import show_metrics

    capsys.readouterr()
    show_metrics({"workspace": {"data": {path: {"data": summary}}}}, precision=5, round_digits=True)
    return capsys.readouterr().out.splitlines()


def test_each_summary_is_a_few_numbers_narrow_enough_for_a_terminal(project_root, capsys):
    """From the project's own full metrics files (tracked in git), as the stages derive them."""
    found = summaries_from_full_files(project_root / "metrics")
    if not found:
        pytest.skip("no metrics/*.json in this checkout: run `dvc repro` first")
    declared_paths = {p for s in expanded_stages(project_root).values() for p in declared(s.get("metrics"))}
    assert set(found) <= declared_paths
    for path, summary in found.items():
        values = leaves(summary)
        assert 1 <= len(values) <= 8 or path.endswith("reconstruction.json"), (path, list(values))
        for key, value in values.items():
            assert isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value), (path, key)
            assert not any(word in key for word in common.NOT_HEADLINES), (path, key)
        lines = dvc_metrics_table(path, summary, capsys)
        assert len(lines) == 2 and path in lines[1]
        assert max(map(len, lines)) <= MAX_METRICS_COLUMNS, (path, max(map(len, lines)))


def test_the_summary_helper_keeps_numbers_only(tmp_path):
    metrics = {"a": 0.5, "n": 3, "nested": {"gap": -0.25, "text": "x", "flag": True, "bad": float("nan")},
               "train_seconds": 12.0}
    assert common.summary_of(metrics, ["a", "n", "nested.gap"]) == {"a": 0.5, "n": 3, "nested": {"gap": -0.25}}
    assert common.summary_of(metrics, {"best.gap": "nested.gap"}) == {"best": {"gap": -0.25}}
    for key, error in (("nested.text", TypeError), ("nested.flag", TypeError), ("nested.bad", TypeError),
                       ("missing", KeyError), ("train_seconds", ValueError)):
        with pytest.raises(error):
            common.summary_of(metrics, [key])
    written = common.write_summary(tmp_path / "s" / "x.json", metrics, ["a"])
    assert json.loads((tmp_path / "s" / "x.json").read_text()) == written == {"a": 0.5}
    assert common.write_summary(None, metrics, ["a"]) == {"a": 0.5}  # no --summary: nothing written


def test_roc_tables_share_one_fpr_grid_per_set():
    curves = {"a": {"near": (np.array([0.0, 0.0, 0.5, 1.0]), np.array([0.0, 0.6, 0.9, 1.0])),
                    "far": (np.array([0.0, 1.0]), np.array([0.0, 1.0]))},
              "b": {"near": (np.array([0.0, 0.25, 1.0]), np.array([0.0, 0.5, 1.0])),
                    "far": (np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0]))}}
    tables = roc_tables(curves)
    assert list(tables) == ["near", "far"]
    near = tables["near"]
    assert [r["fpr"] for r in near] == [0.0, 0.25, 0.5, 1.0]  # every method's own points
    assert list(near[0]) == ["fpr", "a", "b"]
    assert near[0] == {"fpr": 0.0, "a": 0.6, "b": 0.0}  # a rises vertically at 0: its highest TPR there
    assert near[1] == {"fpr": 0.25, "a": 0.75, "b": 0.5}  # a read off its line between 0 and 0.5
    assert tables["far"][0] == {"fpr": 0.0, "a": 0.0, "b": 1.0}
    for rows in tables.values():
        for method in ("a", "b"):
            column = [r[method] for r in rows]
            assert column == sorted(column) and column[0] >= 0 and column[-1] == 1.0


def top_level_plots(root: Path) -> dict[str, dict]:
    return declared(dvc_yaml(root)["plots"])


def test_curves_are_declared_one_line_per_method(project_root):
    plots = top_level_plots(project_root)
    params = load_params(project_root / "params.yaml")
    roc = plots["plots/ood/roc"]  # a directory: one plot per OOD set's CSV (stages/ood.py writes them)
    assert roc["x"] == "fpr" and roc["template"] == "lines"
    assert roc["y"] == ["garbage", "garbage_ue", *params.ood.posthoc_methods]  # every column the stage writes
    stages = expanded_stages(project_root)
    assert "plots/ood/roc" in declared(stages["ood"]["outs"])
    assert "plots/ood/roc.csv" not in declared(stages["ood"].get("plots"))  # long format: a zig-zag as one line
    assert plots["distillation"]["y"] == {"plots/distill/val_accuracy.csv": list(distill.STUDENTS)}
    assert "plots/distill/curves.csv" not in declared(stages["distill"].get("plots"))
    leakage = plots["reconstruction"]
    assert leakage["template"] == "lines_log_x" and leakage["x"] == "size"  # sizes span decades
    assert "plots/reconstruction/leakage.csv" not in declared(stages["reconstruct"].get("plots"))


def test_every_png_output_is_an_image_plot(project_root):
    plots = {p for p in top_level_plots(project_root) if p.endswith(".png") or p.endswith("/grids")}
    outs = {p for stage in expanded_stages(project_root).values() for p in declared(stage.get("outs"))}
    for path in plots:  # each one written by a stage: a file out, or a file in a directory out
        assert path in outs or any(path.startswith(f"{out}/") for out in outs), path
    pngs = {p for p in outs if p.endswith(".png")}
    assert pngs <= plots  # the declared PNG outs, all of them
    assert {"outputs/inversion/grids", "outputs/inversion/overview.png", "outputs/ood/pool_rounds.png",
            "outputs/reconstruction/positive_control/recovery.png"} <= plots


def test_templates_and_the_offline_page_exist(project_root):
    templates = project_root / ".dvc" / "plots"
    used = {p.get("template") for p in top_level_plots(project_root).values()} - {None}
    for name in used:
        content = json.loads((templates / f"{name}.json").read_text())
        text = json.dumps(content)
        assert "<DVC_METRIC_DATA>" in text and "<DVC_METRIC_X>" in text and "<DVC_METRIC_Y>" in text, name
    config = (project_root / ".dvc" / "config").read_text()
    page = re.search(r"html_template\s*=\s*(\S+)", config)
    assert page, ".dvc/config sets no plots.html_template"
    html = (project_root / ".dvc" / page.group(1)).read_text()
    assert "{plot_divs}" in html and "{scripts}" in html  # DVC's placeholders: its plots and Vega's CDN scripts


def test_the_ablation_is_a_project_of_its_own(project_root):
    assert (project_root / "ablation" / ".dvc" / "config").is_file()  # `dvc init --subdir`
    dot = subprocess.run([*DVC, "dag", "--dot"], cwd=project_root, capture_output=True, text=True, check=True).stdout
    assert "ablation" not in dot and "cell@" not in dot
    stages = subprocess.run([*DVC, "stage", "list", "--name-only"], cwd=project_root / "ablation",
                            capture_output=True, text=True, check=True).stdout.split()
    assert {"summary", "mechanisms", "cell@label-none"} <= set(stages)  # runnable: dvc --cd ablation repro


def test_dvc_plots_show_draws_offline(tmp_path):
    """`dvc plots show` with the project's templates in a tiny repo, opened in Chromium with every host
    unresolvable: each plot is drawn (SVG lines, a table of counts), each image is there."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("chromium is not installed: `make setup` installs the Debian package chromium")
    root = Path(__file__).resolve().parents[2]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*DVC, "init", "-q"], cwd=tmp_path, check=True)
    shutil.copytree(root / ".dvc" / "plots", tmp_path / ".dvc" / "plots")
    shutil.copy(root / ".dvc" / "config", tmp_path / ".dvc" / "config")
    (tmp_path / "roc").mkdir()
    (tmp_path / "roc" / "near.csv").write_text("fpr,a,b\n0,0,0\n0.1,0.7,0.4\n1,1,1\n")
    (tmp_path / "sizes.csv").write_text("size,gap\n100,0.3\n1000,0.2\n10000,0.1\n")
    (tmp_path / "confusion.csv").write_text("actual,predicted\ncat,cat\ncat,dog\ndog,dog\n")
    write_png(tmp_path / "image.png")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"plots": [
        {"roc": {"template": "lines", "x": "fpr", "y": ["a", "b"]}},
        {"sizes": {"template": "lines_log_x", "x": "size", "y": {"sizes.csv": ["gap"]}}},
        {"confusion.csv": {"template": "confusion", "x": "actual", "y": "predicted"}},
        "image.png"]}))
    subprocess.run([*DVC, "plots", "show", "-o", "out"], cwd=tmp_path, check=True, capture_output=True)
    page = (tmp_path / "out" / "index.html").read_text()
    assert "cdn.jsdelivr.net" in page  # online, Vega as usual
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
                          "--dump-dom", (tmp_path / "out" / "index.html").as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<svg") == 2 and dom.count("<polyline") == 3  # roc: a and b; sizes: gap
    assert "(log scale)" in dom and 'class="counts"' in dom and 'id="offline-note">' in dom
    image = re.search(r'<img src="([^"]+)"', dom)
    assert image and (tmp_path / "out" / image.group(1)).read_bytes()[:4] == b"\x89PNG"


def write_png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (8, 8), (200, 30, 30)).save(path)


def test_the_flows_read_the_full_files_not_the_summaries(tmp_path):
    """A summary shares its full file's stem (metrics/summary/ood.json, metrics/ood.json): the flows
    key metrics by stem, so the summary must not replace the full file there."""
    from pipeline.tracking import read_metrics_files

    (tmp_path / "summary").mkdir()
    (tmp_path / "ood.json").write_text('{"methods": {}, "best_method": "vim"}')
    (tmp_path / "summary" / "ood.json").write_text('{"max_auroc": {"mnist": 0.9}}')
    for order in ([tmp_path / "ood.json", tmp_path / "summary/ood.json"],
                  [tmp_path / "summary/ood.json", tmp_path / "ood.json"]):
        assert read_metrics_files([str(p) for p in order]) == {"ood": {"methods": {}, "best_method": "vim"}}
