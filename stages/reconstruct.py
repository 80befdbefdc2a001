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
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from netinv.atomic import atomic_path, save_figure, save_npz, write_csv, write_json
from netinv.device import describe, resolve_device, seed_everything
from netinv.inversion.generator import ConditionedGenerator, GeneratorConfig
from netinv.reconstruction.matching import leakage
from netinv.reconstruction.objective import ReconstructionWeights
from netinv.reconstruction.plots import leakage_figure, pairs_figure
from netinv.reconstruction.reconstruct import ReconstructionConfig, reconstruct
from netinv.reconstruction.subsets import subset_and_control
from netinv.reconstruction.target import train_target
from netinv.splits import Prepared, load_prepared
from netinv.training import predict_logits
from stages import runner
from stages.config import ReconstructParams, load_params
from stages.tracking import numeric_metrics, stage_run

log = logging.getLogger("stages.reconstruct")
MONITOR_IMAGES = 50  # validation images `fit` scores after every epoch (hundreds of epochs at size 100)


def data_digest(data: Prepared) -> str:
    digest = hashlib.sha256(json.dumps(data.meta, sort_keys=True).encode())
    for split in (data.train, data.val):
        digest.update(split.images.tobytes())
        digest.update(split.labels.tobytes())
    return digest.hexdigest()


def save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)


def reconstruct_from(target: nn.Module, data: Prepared, cfg: ReconstructParams, seed: int,
                     device: torch.device) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]]]:
    """Reconstructions of `target`'s training data with the `reconstruct` params: images, labels, history.

    Shared with the production audit's leakage probe (stages/audit_probes.py).
    """
    channels, height, width = data.image_shape
    generator = ConditionedGenerator(GeneratorConfig(
        num_classes=len(data.class_names), out_channels=channels, image_size=(height, width), mode=cfg.mode,
        latent_dim=cfg.latent_dim, width=cfg.width, dropout=0.0))
    config = ReconstructionConfig(
        per_class=cfg.per_class, steps=cfg.steps, lr=cfg.lr, batch_size=cfg.batch_size,
        perturbation=cfg.perturbation, epsilon=cfg.epsilon, copies=cfg.copies, grad_groups=cfg.grad_groups,
        feature_layers=tuple(cfg.feature_layers), weights=ReconstructionWeights(**cfg.weights.model_dump()),
        seed=seed)
    return reconstruct(generator, target, config, device)


def audit_size(size: int, data: Prepared, cfg: ReconstructParams, seed: int,
               device: torch.device) -> dict[str, Any]:
    """Train a target on `size` images, reconstruct, match: arrays and metrics for one size."""
    num_classes = len(data.class_names)
    control_split = data.train if cfg.control == "train" else data.val
    train_idx, control_idx = subset_and_control(
        data.train.labels, size, seed + size, num_classes,
        control_labels=None if cfg.control == "train" else data.val.labels)
    train_images, train_labels = data.train.images[train_idx], data.train.labels[train_idx]
    control_images, control_labels = control_split.images[control_idx], control_split.labels[control_idx]

    started = time.perf_counter()
    t = cfg.target
    target, history = train_target(
        train_images, train_labels, data.val.images[:MONITOR_IMAGES], data.val.labels[:MONITOR_IMAGES],
        num_classes=num_classes, mean=data.meta["mean"], std=data.meta["std"], channels=tuple(t.channels),
        hidden=t.hidden, dropout=t.dropout, steps=t.steps, batch_size=t.batch_size, lr=t.lr,
        weight_decay=t.weight_decay, seed=seed, device=device)
    target_seconds = time.perf_counter() - started
    test_accuracy = float((predict_logits(target, data.test.images, device).argmax(1) == data.test.labels).mean())
    train_accuracy = float((predict_logits(target, train_images, device).argmax(1) == train_labels).mean())
    log.info("size %d: target trained %d epochs in %.1fs, train accuracy %.3f, test accuracy %.3f",
             size, len(history), target_seconds, train_accuracy, test_accuracy)

    started = time.perf_counter()
    recons, recon_labels, recon_history = reconstruct_from(target, data, cfg, seed + size, device)
    recon_seconds = time.perf_counter() - started

    started = time.perf_counter()
    result = leakage(recons, recon_labels, train_images, train_labels, control_images, control_labels,
                     threshold=cfg.ssim_threshold, bootstrap=cfg.bootstrap, seed=seed, details=True)
    match_seconds = time.perf_counter() - started
    per = result.pop("per_reconstruction")
    recon_confidence = torch.softmax(torch.from_numpy(predict_logits(target, recons, device)), 1)
    metrics = {
        **result,
        "control_split": cfg.control,
        "size": size,
        "target_train_accuracy": train_accuracy,
        "target_test_accuracy": test_accuracy,
        "target_epochs": len(history),
        "recon_confidence_mean": float(recon_confidence[np.arange(len(recons)), recon_labels].mean()),
        "final_loss": recon_history[-1]["loss"],
        "target_seconds": target_seconds,
        "reconstruct_seconds": recon_seconds,
        "match_seconds": match_seconds,
    }
    log.info("size %d: SSIM train %.3f vs control %.3f, gap %.4f [%.4f, %.4f], recovered %.3f vs %.3f "
             "(reconstruction %.0fs, matching %.0fs)", size, metrics["ssim_train_mean"],
             metrics["ssim_control_mean"], metrics["leakage_gap"], metrics["gap_ci_low"], metrics["gap_ci_high"],
             metrics["matched_frac_train"], metrics["matched_frac_control"], recon_seconds, match_seconds)
    return {"images": recons, "labels": recon_labels, "train_indices": train_idx, "control_indices": control_idx,
            "train_nearest": train_idx[per["train"]["index"]], "train_ssim": per["train"]["ssim"],
            "control_nearest": control_idx[per["control"]["index"]], "control_ssim": per["control"]["ssim"],
            "metrics": metrics}


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


def main(argv: Sequence[str] | None = None) -> None:
    p = runner.parser(__doc__)
    p.add_argument("--data", required=True, type=Path, help="prepared data directory")
    p.add_argument("--outputs", required=True, type=Path, help="directory for the per-size outputs")
    p.add_argument("--metrics", required=True, type=Path)
    p.add_argument("--plots", required=True, type=Path, help="directory for leakage.png and leakage.csv")
    p.add_argument("--checkpoint", required=True, type=Path, help="finished sizes, reused on rerun (kept out of DVC)")
    args = p.parse_args(argv)
    params = load_params(args.params)
    cfg = params.reconstruct

    data = load_prepared(args.data)
    device = resolve_device(cfg.device)
    log.info("reconstruction audit for sizes %s on %s (control: %s split)", cfg.sizes, describe(device), cfg.control)
    # What a finished size depends on: everything but the list of sizes itself.
    base = {"reconstruct": cfg.model_dump(exclude={"sizes"}), "seed": params.seed, "data": data_digest(data)}
    results: dict[int, dict[str, Any]] = {}
    for size in cfg.sizes:
        fingerprint = json.dumps({**base, "size": size}, sort_keys=True)
        path = args.checkpoint / f"{size}.npz"
        result = cached(path, fingerprint)
        if result is None:
            seed_everything(params.seed + size)
            result = audit_size(size, data, cfg, params.seed, device)
            save_npz(path, fingerprint=np.array(fingerprint), metrics=np.array(json.dumps(result["metrics"])),
                     **{k: v for k, v in result.items() if k != "metrics"})
        else:
            log.info("size %d: reusing the finished result in %s", size, path)
        results[size] = result

    control_split = data.train if cfg.control == "train" else data.val
    for size, r in results.items():
        out = args.outputs / str(size)
        save_npz(out / "reconstructions.npz", images=r["images"], labels=r["labels"].astype(np.int64))
        save_npy(out / "train_indices.npy", r["train_indices"])
        save_npy(out / "control_indices.npy", r["control_indices"])
        m = r["metrics"]
        save_figure(out / "pairs.png", pairs_figure(
            r["images"], r["labels"], data.train.images, r["train_nearest"], r["train_ssim"],
            control_split.images, r["control_nearest"], r["control_ssim"], data.class_names,
            title=f"{size} training images: SSIM to training {m['ssim_train_mean']:.3f} vs control "
                  f"{m['ssim_control_mean']:.3f}, gap {m['leakage_gap']:.3f} "
                  f"[{m['gap_ci_low']:.3f}, {m['gap_ci_high']:.3f}]"))
    metrics = {str(size): r["metrics"] for size, r in results.items()}
    rows = [{k: r["metrics"][k] for k in ("size", "leakage_gap", "gap_ci_low", "gap_ci_high", "ssim_train_mean",
                                          "ssim_control_mean", "matched_frac_train", "matched_frac_control")}
            for r in results.values()]
    write_json(args.metrics, metrics)
    write_csv(args.plots / "leakage.csv", rows)
    save_figure(args.plots / "leakage.png", leakage_figure(rows))
    with stage_run("reconstruct", params.mlflow.experiment, {"reconstruct": cfg.model_dump(),
                                                             "seed": params.seed}) as mlflow:
        mlflow.log_metrics(numeric_metrics({f"size_{k}": v for k, v in metrics.items()}))
        mlflow.log_artifact(str(args.plots / "leakage.png"))
        for size in results:
            mlflow.log_artifact(str(args.outputs / str(size) / "pairs.png"), artifact_path=f"pairs_{size}")
        mlflow.log_artifact(str(args.metrics))
    for size in results:  # the outputs are written: the next run starts afresh
        (args.checkpoint / f"{size}.npz").unlink(missing_ok=True)


if __name__ == "__main__":
    runner.run(main)
