"""Stage `invert`: train the conditioned generator against the classifier and measure it.

Params: `seed`, `invert.*`. Inputs: the classifier (inverted), its ONNX export (for
fidelity through onnxruntime), the two judges (the evaluator, which sweeps read, and the
held-out MLP, which nothing selected on reads) and the prepared
test split (real images for diversity, coverage and FID). Outputs: `models/generator.pt`,
samples (`samples.npz`, `samples_per_class` per class), per-class image grids, the
quality metrics and the loss curves. A killed run resumes from its last checkpoint.
Data-parallel: `torchrun --nproc_per_node N -m stages.invert ...`; rank 0 writes.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
import warnings
from collections.abc import Sequence

import numpy as np
import torch

from netinv import distributed
from netinv.atomic import save_figure, save_image, save_npz, write_csv, write_json
from netinv.config.inversion import InversionConfig, SamplingConfig
from netinv.device import describe, resolve_device, seed_everything
from netinv.export import onnx_session
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.sampling import sample_balanced
from netinv.inversion.trainer import generate, train_generator
from netinv.metrics.inversion import inversion_quality
from netinv.models import load_model, save_model
from netinv.splits import Prepared, load_prepared
from netinv.visual import beside_real, class_overview, grid_image
from stages import common, runner
from stages.config import Params, generator_config
from stages.tracking import log_pyfunc, numeric_metrics, stage_run

log = logging.getLogger("stages.invert")
# --summary (dvc metrics show): what the samples show of the classifier, and how much of the data they cover
HEADLINES = ("fidelity", "eval_agreement", "eval_agreement_heldout", "coverage", "coverage_real", "pixel_spread_ratio")


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(argv: Sequence[str] | None = None) -> None:
    p = common.parser(__doc__, classifier="", onnx="", evaluator="", heldout="the held-out judge", data=common.DATA,
                      generator="generator model file to write", samples="directory for samples.npz and grids",
                      metrics="", summary=common.SUMMARY, plots="",
                      checkpoint="resumable training state (kept out of DVC)")
    args, params = common.parse(p, argv)
    cfg = params.invert

    data = load_prepared(args.data)
    with distributed.process_group(resolve_device(cfg.device)) as device:
        invert_and_write(args, params, data, device)


def invert_and_write(args: argparse.Namespace, params: Params, data: Prepared, device: torch.device) -> None:
    cfg = params.invert
    seed_everything(params.seed)
    classifier = load_model(args.classifier, device)
    evaluator, heldout = load_model(args.evaluator, device), load_model(args.heldout, device)
    num_classes = len(data.class_names)
    generator = ConditionedGenerator(generator_config(cfg, num_classes, data.image_shape))
    log.info("inverting the classifier with a %s-conditioned generator on %s", cfg.mode, describe(device))
    started = time.perf_counter()
    history = train_generator(generator, classifier, cfg.build(InversionConfig, seed=params.seed), device,
                              checkpoint=args.checkpoint)
    train_seconds = time.perf_counter() - started
    if not distributed.is_main():
        return

    started = time.perf_counter()
    images, labels = sample_balanced(generator, cfg.build(SamplingConfig), params.seed + 1, device)
    sample_seconds = time.perf_counter() - started
    quality = inversion_quality(images, labels, classifier, evaluator, data.test.images, data.test.labels,
                                num_classes, device, onnx_session=onnx_session(args.onnx), seed=params.seed,
                                control_images=data.train.images, control_labels=data.train.labels,
                                heldout=heldout)
    metrics = {
        **quality,
        "mode": cfg.mode,
        "sample_temperature": cfg.sample_temperature,
        "train_seconds": train_seconds,
        "steps": cfg.generator_steps,
        "samples_per_second": len(images) / sample_seconds,
        "num_samples": len(images),
        "peak_memory_mb": peak_memory_mb(device),
        "device": str(device),
        "processes": distributed.world()[1],
    }
    log.info("fidelity %.3f (onnx %.3f), judge agreement %.3f (held-out %.3f), coverage %.3f, pixel spread %.2f",
             metrics["fidelity"], metrics["fidelity_onnx"], metrics["eval_agreement"],
             metrics["eval_agreement_heldout"], metrics["coverage"], metrics["pixel_spread_ratio"])

    save_model(args.generator, generator.cpu().eval(), meta={"classifier": str(args.classifier),
                                                             "class_names": list(data.class_names)})
    save_npz(args.samples / "samples.npz", images=images, labels=labels)
    grids = args.samples / "grids"
    for c, name in enumerate(data.class_names):
        tiles = beside_real(images[labels == c][:64], data.test.images[data.test.labels == c])
        save_image(grids / f"{c:02d}_{name.replace('/', '-').replace(' ', '_')}.png", grid_image(tiles, nrow=12))
    save_figure(args.samples / "overview.png",
                class_overview(images, labels, data.class_names,
                               title=f"generated (left) | real test images (right): judge agreement "
                                     f"{metrics['eval_agreement']:.2f}, held-out {metrics['eval_agreement_heldout']:.2f}, "
                                     f"coverage {metrics['coverage']:.2f}",
                               real_images=data.test.images, real_labels=data.test.labels))
    write_json(args.metrics, metrics)
    common.write_summary(args.summary, metrics, HEADLINES)
    write_csv(args.plots / "losses.csv", history)
    with stage_run("invert", params.mlflow.experiment, {"invert": cfg.model_dump(), "seed": params.seed}) as mlflow:
        for record in history:
            mlflow.log_metrics({f"train_{k}": v for k, v in record.items() if k != "step"}, step=int(record["step"]))
        mlflow.log_metrics(numeric_metrics({k: v for k, v in metrics.items() if k != "per_class"}))
        mlflow.log_artifact(str(args.samples / "overview.png"))
        mlflow.log_artifacts(str(grids), artifact_path="grids")
        mlflow.log_artifact(str(args.metrics))
        log_generator(mlflow, args.generator, generator, cfg, data.class_names)
    args.checkpoint.unlink(missing_ok=True)  # the outputs are written: the next run starts afresh


def log_generator(mlflow, path, generator: ConditionedGenerator, cfg, class_names: tuple[str, ...]) -> None:
    """The generator as an MLflow model (pyfunc: it takes a latent and a conditioning code, not
    one tensor): intended labels in, uint8 images out, with the stage's sampling settings as
    default params; signature and example from a real call of the trained generator."""
    import pandas as pd
    from mlflow.models import infer_signature

    settings = {"seed": 0, "temperature": float(cfg.sample_temperature), "dropout": bool(cfg.sample_with_dropout)}
    example = pd.DataFrame({"label": np.arange(min(2, len(class_names)), dtype=np.int64)})
    images = generate(generator, torch.tensor(example["label"].to_numpy()), settings["temperature"],
                      settings["seed"], torch.device("cpu"), dropout=settings["dropout"]).numpy()
    with warnings.catch_warnings():  # labels are never missing: MLflow's hint about integer columns is moot
        warnings.filterwarnings("ignore", message=".*integer column")
        signature = infer_signature(example, images, params=settings)
    log_pyfunc(mlflow, "generator", "pyfunc_generator.py", {"generator": str(path)}, signature, (example, settings),
               ("torch", "numpy", "pandas", "pydantic"), metadata={"class_names": list(class_names)},
               model_config=settings)


if __name__ == "__main__":
    runner.run(main, section="invert", stage="invert")
