"""Stage `train@ROLE`: train the classifier under audit (`classifier`) or one of its two judges.

The roles share this loop and differ in architecture and params section: `classifier`
is the papers' CNN, `evaluator` a residual network trained with shifts, the judge that
parameter sweeps read, and `heldout` an MLP, the judge that nothing selected on reads. Outputs: the model file (state_dict + architecture), test
metrics, training curves and the confusion matrix (CSV for DVC plots, PNG for people).

Data-parallel on several processes or GPUs: `torchrun --nproc_per_node N -m stages.train
ROLE ...` (docs/scaling.md); rank 0 writes the outputs.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

import numpy as np
import torch

from netinv import distributed
from netinv.atomic import save_figure, write_csv, write_json
from netinv.config.models import CNNConfig, MLPConfig, ResNetConfig, TrainConfig
from netinv.device import describe, resolve_device, seed_everything
from netinv.metrics.classification import classification_report, plot_confusion
from netinv.models import CNNClassifier, MLPJudge, SmallResNet, save_model
from netinv.splits import Prepared, load_prepared
from netinv.training import fit, predict_logits
from stages import common, runner
from stages.config import Params
from stages.schema import Section
from stages.tracking import log_live, log_splits, numeric_metrics, stage_run

log = logging.getLogger("stages.train")
ROLES = {"classifier": (CNNConfig, CNNClassifier), "evaluator": (ResNetConfig, SmallResNet),
         "heldout": (MLPConfig, MLPJudge)}
HEADLINES = ("test_accuracy", "val_accuracy", "worst_class_accuracy")  # --summary: dvc metrics show


def section_for(params: Params, role: str) -> Section:
    return getattr(params, role)


def epoch_metrics(record) -> dict[str, float]:
    return {k: v for k, v in record.as_dict().items() if k != "epoch"}


def main(argv: Sequence[str] | None = None) -> None:
    p = common.parser(__doc__, data=common.DATA, model="model file to write", metrics="", summary=common.SUMMARY,
                      plots="directory for curves and confusion matrix")
    p.add_argument("role", choices=sorted(ROLES))
    args, params = common.parse(p, argv)
    section = section_for(params, args.role)

    data = load_prepared(args.data)
    with distributed.process_group(resolve_device(section.device)) as device:
        train_and_write(args, params, section, data, device)


def train_and_write(args: argparse.Namespace, params: Params, section: Section, data: Prepared,
                    device: torch.device) -> None:
    seed_everything(params.seed)
    arch_config, network = ROLES[args.role]
    model = network(section.build(arch_config, **data.model_shape()))
    config = section.build(TrainConfig, seed=params.seed)
    log.info("training %s (%s, %d parameters) on %s", args.role, network.__name__,
             sum(p.numel() for p in model.parameters()), describe(device))
    live: set[int] = set()  # epochs logged to the stage's open MLflow run as they ended

    def on_epoch(r) -> None:
        log.info("epoch %d: loss %.4f, val accuracy %.4f (%.1fs)", r.epoch, r.train_loss, r.val_accuracy, r.seconds)
        if log_live(epoch_metrics(r), r.epoch):
            live.add(r.epoch)

    started = time.perf_counter()
    history = fit(model, data.train.images, data.train.labels, data.val.images, data.val.labels, config, device,
                  on_epoch=on_epoch)
    train_seconds = time.perf_counter() - started
    if not distributed.is_main():
        return

    logits = predict_logits(model, data.test.images, device)
    report = classification_report(logits, data.test.labels, data.class_names)
    metrics = {
        **{k: v for k, v in report.items() if k != "confusion_matrix"},
        "val_accuracy": history[-1].val_accuracy,
        "train_seconds": train_seconds,
        "epochs": section.epochs,
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": str(device),
        "processes": distributed.world()[1],
    }
    log.info("%s test accuracy %.4f", args.role, metrics["test_accuracy"])
    model = model.cpu().eval()
    save_model(args.model, model, meta={"role": args.role, "dataset": data.meta["dataset"],
                                        "class_names": list(data.class_names), "test_accuracy": report["test_accuracy"]})
    write_json(args.metrics, metrics)
    common.write_summary(args.summary, metrics, HEADLINES)
    write_csv(args.plots / "training.csv", [r.as_dict() for r in history])
    predicted = logits.argmax(1)
    write_csv(args.plots / "confusion.csv",
              [{"actual": data.class_names[a], "predicted": data.class_names[b]}
               for a, b in zip(data.test.labels, predicted, strict=True)])
    save_figure(args.plots / "confusion.png",
                plot_confusion(np.array(report["confusion_matrix"]), data.class_names,
                               f"{args.role}: test accuracy {report['test_accuracy']:.4f}"))

    logged = {args.role: section.model_dump(), "seed": params.seed, "dataset": data.meta["dataset"]}
    with stage_run(f"train_{args.role}", params.mlflow.experiment, logged) as mlflow:
        log_splits(mlflow, args.data, data)
        for record in history:
            if record.epoch not in live:
                mlflow.log_metrics(epoch_metrics(record), step=record.epoch)
        mlflow.log_metrics(numeric_metrics(metrics))
        mlflow.log_artifact(str(args.plots / "confusion.png"))
        mlflow.log_artifact(str(args.model))
        if args.role == "classifier":
            example = np.random.default_rng(0).random((2, *data.image_shape), dtype=np.float32)
            mlflow.pytorch.log_model(model, name="pytorch", input_example=example,
                                     pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"])


if __name__ == "__main__":
    import sys

    runner.run(main, section=next((a for a in sys.argv[1:] if a in ROLES), None),  # a role
               stage=lambda argv: next((f"train_{a}" for a in argv if a in ROLES), None))
