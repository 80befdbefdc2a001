"""Stage `reconstruct`: a privacy audit by training-data reconstruction, with a held-out control.

Params: `seed`, `reconstruct.*`. Input: the prepared data. For each subset size: draw a
class-balanced training subset and a control of the same size and balance that the target
never sees (the rest of the training split, or the validation split), train a target on
the subset, reconstruct images from it, and measure how much closer they are to the
training subset than to the control. Outputs per size (`--outputs/SIZE/`):
`reconstructions.npz`, `train_indices.npy`, `control_indices.npy`, `pairs.png`; then
`metrics/reconstruction.json` (one entry per size), `leakage.png` and `leakage.csv`.
A finished size is kept in `--checkpoint` and reused by a rerun with the same params and
data, so a killed run loses at most the size it was working on.

Beside the surrogates (today's prior-based generator, per size), `reconstruct.method` (the
KKT attack by default) runs on a positive control, an MLP trained to memorise
(`reconstruct.positive_control`), and on the audited classifier itself (`--classifier`,
`reconstruct.audited_model`), each matched against a held-out control of
`reconstruct.control_split`: `--outputs/positive_control/` and `--outputs/audited_model/`
(`reconstructions.npz`, `train_indices.npy`, `control_indices.npy`, `recovery.png`,
`pairs.png`) and the keys `positive_control` / `audited_model` of the metrics, each with its
`verdict`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from netinv.atomic import save_figure, save_npy, save_npz, write_csv, write_json
from netinv.config.reconstruction import (
    KKTConfig,
    LeakageStudyConfig,
    ReconstructionConfig,
    RecoveryConfig,
)
from netinv.device import describe
from netinv.models import load_model
from netinv.reconstruction.attacks import Attack, make_attack
from netinv.reconstruction.plots import leakage_figure, pairs_figure, recovery_figure
from netinv.reconstruction.positive import audited_model, control_images, positive_control
from netinv.reconstruction.study import audit_size, control_split, leakage_rows
from netinv.splits import Prepared
from stages import common, runner
from stages.config import Params, ReconstructParams, generator_config
from stages.tracking import numeric_metrics, stage_run

log = logging.getLogger("stages.reconstruct")


def data_digest(data: Prepared) -> str:
    digest = hashlib.sha256(json.dumps(data.meta, sort_keys=True).encode())
    for split in (data.train, data.val):
        digest.update(split.images.tobytes())
        digest.update(split.labels.tobytes())
    return digest.hexdigest()


def study_configs(cfg: ReconstructParams, data: Prepared, seed: int) -> dict[str, Any]:
    """The core configs of `netinv.reconstruction.study.audit_size` from the `reconstruct` section."""
    return {"study": cfg.build(LeakageStudyConfig), "target": cfg.target,
            "generator": generator_config(cfg, len(data.class_names), data.image_shape),
            "reconstruction": cfg.build(ReconstructionConfig, seed=seed)}


def cached(path: Path, fingerprint: str) -> dict[str, Any] | None:
    """The finished size saved at `path` if it was made with this very fingerprint."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["fingerprint"]) != fingerprint:
                log.info("ignoring %s: made with other params or data", path)
                return None
            out = {k: saved[k] for k in saved.files if k not in ("fingerprint", "metrics")}
            out["metrics"] = json.loads(str(saved["metrics"]))
            return out
    except (OSError, KeyError, ValueError) as exc:
        log.warning("ignoring unreadable %s (%s)", path, exc)
        return None


def audit_sizes(params: Params, data: Prepared, device: torch.device, checkpoint: Path) -> dict[int, dict[str, Any]]:
    """Every size's result: reused from `checkpoint` when finished there with these params and data, else
    computed and saved there at once."""
    cfg = params.reconstruct
    # What a finished size depends on: everything but the list of sizes itself.
    base = {"reconstruct": cfg.model_dump(exclude={"sizes", *RECOVERY_KEYS}), "seed": params.seed,
            "data": data_digest(data)}
    configs = study_configs(cfg, data, params.seed)
    results: dict[int, dict[str, Any]] = {}
    for size in cfg.sizes:
        fingerprint = json.dumps({**base, "size": size}, sort_keys=True)
        path = checkpoint / f"{size}.npz"
        result = cached(path, fingerprint)
        if result is None:
            result = audit_size(size, data, **configs, seed=params.seed, device=device)
            save_npz(path, fingerprint=np.array(fingerprint), metrics=np.array(json.dumps(result["metrics"])),
                     **{k: v for k, v in result.items() if k != "metrics"})
        else:
            log.info("size %d: reusing the finished result in %s", size, path)
        results[size] = result
    return results


RECOVERY_KEYS = ("positive_control", "audited_model", "method", "control_split", "recovered_threshold")


def build_attack(cfg: ReconstructParams, data: Prepared, kkt: KKTConfig, seed: int, device: torch.device) -> Attack:
    """The attack `reconstruct.method` names, with `kkt` (its KKT settings) or the generator of the section."""
    return make_attack(cfg.method, kkt, device, generator_config(cfg, len(data.class_names), data.image_shape),
                       cfg.build(ReconstructionConfig, seed=seed))


def recovery_runs(params: Params, data: Prepared, device: torch.device,
                  classifier: Path | None) -> dict[str, dict[str, Any]]:
    """The positive control and the audited classifier, each attacked with `reconstruct.method` and matched."""
    cfg, seed = params.reconstruct, params.seed
    recovery = cfg.build(RecoveryConfig)
    runs: dict[str, dict[str, Any]] = {}
    if cfg.positive_control.enabled:
        attack = build_attack(cfg, data, cfg.positive_control.attack, seed, device)
        runs["positive_control"] = positive_control(data, cfg.positive_control, recovery, attack, cfg.bootstrap,
                                                    seed, device)
    if cfg.audited_model.enabled and classifier is not None:
        model = load_model(classifier, device)
        attack = build_attack(cfg, data, cfg.audited_model.attack, seed, device)
        runs["audited_model"] = audited_model(model, data, cfg.audited_model, recovery, attack, cfg.bootstrap, seed)
    elif cfg.audited_model.enabled:
        log.warning("reconstruct.audited_model is enabled but no --classifier was given: the audited model is skipped")
    return runs


def write_recovery(outputs: Path, data: Prepared, control_split: str, name: str, r: dict[str, Any]) -> None:
    """One attacked model's reconstructions, index sets, recovery grid (sorted by SSIM) and pairs picture."""
    out = outputs / name
    controls = control_images(data, control_split)
    save_npz(out / "reconstructions.npz", images=r["images"], labels=r["labels"].astype(np.int64))
    save_npy(out / "train_indices.npy", r["train_indices"])
    save_npy(out / "control_indices.npy", r["control_indices"])
    per, m = r["per_image"], r["metrics"]
    save_figure(out / "recovery.png", recovery_figure(
        r["images"], data.train.images[r["train_indices"]], per["train_ssim"], per["train_recon"],
        controls.images[r["control_indices"]], per["control_ssim"], per["control_recon"], title=m["verdict"]))
    save_figure(out / "pairs.png", pairs_figure(
        r["images"], r["labels"], data.train.images, r["train_nearest"], r["train_ssim"], controls.images,
        r["control_nearest"], r["control_ssim"], data.class_names,
        title=f"{name}: gap {m['leakage_gap']:.3f} [{m['gap_ci_low']:.3f}, {m['gap_ci_high']:.3f}]"))


def headline_keys(full: dict[str, Any]) -> list[str]:
    """--summary (dvc metrics show): the verdicts' number, recovered training minus control images, of
    each attacked model in metrics/reconstruction.json (the positive control, the audited model)."""
    return [f"{name}.recovered_gap" for name in ("positive_control", "audited_model") if name in full]


def write_outputs(args: argparse.Namespace, data: Prepared, control: str, results: dict[int, dict[str, Any]],
                  runs: dict[str, dict[str, Any]], held_out: str) -> None:
    """Per size and per attacked model: the reconstructions, both index sets and pictures; then the metrics
    (one key per size, plus `positive_control` / `audited_model`) and the leakage table of the sizes."""
    controls = control_split(data, control)
    for size, r in results.items():
        out = args.outputs / str(size)
        save_npz(out / "reconstructions.npz", images=r["images"], labels=r["labels"].astype(np.int64))
        save_npy(out / "train_indices.npy", r["train_indices"])
        save_npy(out / "control_indices.npy", r["control_indices"])
        m = r["metrics"]
        save_figure(out / "pairs.png", pairs_figure(
            r["images"], r["labels"], data.train.images, r["train_nearest"], r["train_ssim"],
            controls.images, r["control_nearest"], r["control_ssim"], data.class_names,
            title=f"{size} training images: SSIM to training {m['ssim_train_mean']:.3f} vs control "
                  f"{m['ssim_control_mean']:.3f}, gap {m['leakage_gap']:.3f} "
                  f"[{m['gap_ci_low']:.3f}, {m['gap_ci_high']:.3f}]"))
    for name, r in runs.items():
        write_recovery(args.outputs, data, held_out, name, r)
    rows = leakage_rows(r["metrics"] for r in results.values())
    full = {**{str(size): r["metrics"] for size, r in results.items()}, **{name: r["metrics"] for name, r in runs.items()}}
    write_json(args.metrics, full)
    common.write_summary(args.summary, full, headline_keys(full))
    write_csv(args.plots / "leakage.csv", rows)
    save_figure(args.plots / "leakage.png", leakage_figure(rows))


def main(argv: Sequence[str] | None = None) -> None:
    p = common.parser(__doc__, data=common.DATA, outputs="directory for the per-size outputs", metrics="",
                      summary=common.SUMMARY, plots="directory for leakage.png and leakage.csv",
                      checkpoint="finished sizes, reused on rerun (kept out of DVC)")
    p.add_argument("--classifier", type=Path, default=None,
                   help="the audited classifier (models/classifier.pt): attacked too when reconstruct.audited_model "
                        "is enabled")
    args, params = common.parse(p, argv)
    cfg = params.reconstruct
    data, device = common.prepared_on(args.data, cfg.device, seed=None)  # each size seeds itself
    log.info("reconstruction audit for sizes %s on %s (control: %s split)", cfg.sizes, describe(device), cfg.control)
    results = audit_sizes(params, data, device, args.checkpoint)
    runs = recovery_runs(params, data, device, args.classifier)
    write_outputs(args, data, cfg.control, results, runs, cfg.control_split)
    metrics = {**{f"size_{size}": r["metrics"] for size, r in results.items()},
               **{name: r["metrics"] for name, r in runs.items()}}
    with stage_run("reconstruct", params.mlflow.experiment, {"reconstruct": cfg.model_dump(),
                                                             "seed": params.seed}) as mlflow:
        mlflow.log_metrics(numeric_metrics(metrics))
        mlflow.log_artifact(str(args.plots / "leakage.png"))
        for size in results:
            mlflow.log_artifact(str(args.outputs / str(size) / "pairs.png"), artifact_path=f"pairs_{size}")
        for name in runs:
            mlflow.log_artifact(str(args.outputs / name / "recovery.png"), artifact_path=name)
        mlflow.log_artifact(str(args.metrics))
    for size in results:  # the outputs are written: the next run starts afresh
        (args.checkpoint / f"{size}.npz").unlink(missing_ok=True)


if __name__ == "__main__":
    runner.run(main, section={
        "CNNConfig": "reconstruct.target", "TargetConfig": "reconstruct.target", "TrainConfig": "reconstruct.target",
        "PositiveControlConfig": "reconstruct.positive_control", "AuditedModelConfig": "reconstruct.audited_model",
        "KKTConfig": "reconstruct.positive_control.attack", "": "reconstruct"}, stage="reconstruct")
