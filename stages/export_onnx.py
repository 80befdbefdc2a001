"""Stage `export_onnx`: export the classifier to one ONNX file and prove it computes the same.

Parity is measured on the whole test set (max |logit difference|, argmax agreement),
latency at batch 1 and 256 for onnxruntime and PyTorch eager. The stage fails when
parity is outside `export.max_abs_diff` / `export.min_argmax_agreement`. On success
the ONNX model is logged to MLflow (signature from real test images, an input example, the
class names in its metadata) and registered with the alias `candidate`, described, its
class names and md5 as version tags (`describe_candidate`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from netinv.atomic import write_json
from netinv.errors import ExportParityError
from netinv.export import (
    check_input_contract,
    export_onnx,
    median_latency_ms,
    onnx_logits,
    onnx_session,
    parity,
)
from netinv.models import load_model
from netinv.splits import load_prepared
from netinv.training import predict_logits
from stages import common, runner
from stages.tracking import git_commit, numeric_metrics, stage_run

log = logging.getLogger("stages.export_onnx")
HEADLINES = ("max_abs_diff", "argmax_agreement")  # --summary: dvc metrics show
ONNX_MD5_TAG = "netinv.onnx_md5"  # the md5 of the exported file, as DVC records it in dvc.lock


def main(argv: Sequence[str] | None = None) -> None:
    p = common.parser(__doc__, model="classifier model file", data=common.DATA, onnx="ONNX file to write",
                      metrics="", summary=common.SUMMARY)
    args, params = common.parse(p, argv)
    cfg = params.export

    data = load_prepared(args.data)
    model = load_model(args.model)
    export_onnx(model, data.image_shape, args.onnx, opset=cfg.opset)
    session = onnx_session(args.onnx)
    check_input_contract(session, data.image_shape, args.onnx)

    images = data.test.images.astype("float32") / 255.0
    reference = predict_logits(model, data.test.images, torch.device("cpu"))
    result = parity(reference, onnx_logits(session, images))
    metrics = {"max_abs_diff": result.max_abs_diff, "argmax_agreement": result.argmax_agreement,
               "num_compared": len(images), "onnx_bytes": args.onnx.stat().st_size}
    name = session.get_inputs()[0].name
    with torch.inference_mode():
        for batch in (1, 256):
            x = images[:batch]
            xt = torch.from_numpy(x)
            metrics[f"ort_latency_ms_b{batch}"] = median_latency_ms(lambda x=x: session.run(None, {name: x}),
                                                                    cfg.latency_repeats)
            metrics[f"torch_latency_ms_b{batch}"] = median_latency_ms(lambda xt=xt: model(xt), cfg.latency_repeats)
    metrics["ort_speedup_b1"] = metrics["torch_latency_ms_b1"] / metrics["ort_latency_ms_b1"]
    write_json(args.metrics, metrics)
    common.write_summary(args.summary, metrics, HEADLINES)
    log.info("parity: max |diff| %.2e, argmax agreement %.4f; latency b1 ort %.3f ms vs torch %.3f ms",
             result.max_abs_diff, result.argmax_agreement, metrics["ort_latency_ms_b1"], metrics["torch_latency_ms_b1"])
    failed = result.max_abs_diff > cfg.max_abs_diff or result.argmax_agreement < cfg.min_argmax_agreement
    with stage_run("export_onnx", params.mlflow.experiment, {"export": cfg.model_dump()}) as mlflow:
        mlflow.log_metrics(numeric_metrics(metrics))
        mlflow.set_tag("parity_passed", str(not failed))
        if not failed:
            import onnx
            from mlflow.models import infer_signature

            batch = images[:8]  # real test images: the signature is what the model is fed and returns
            info = mlflow.onnx.log_model(
                onnx.load(str(args.onnx)), name="onnx", registered_model_name=params.mlflow.registered_model,
                signature=infer_signature(batch, onnx_logits(session, batch)), input_example=images[:2],
                metadata={"class_names": list(data.class_names), "dataset": data.meta["dataset"]})
            describe_candidate(mlflow.MlflowClient(), params.mlflow.registered_model, info.registered_model_version,
                               data, args, metrics)
            log.info("registered %s version %s as @candidate", params.mlflow.registered_model,
                     info.registered_model_version)
    if failed:
        raise ExportParityError(
            f"{args.onnx} disagrees with PyTorch: max |logit diff| {result.max_abs_diff:.3g} "
            f"(allowed {cfg.max_abs_diff:g}), argmax agreement {result.argmax_agreement:.4f} "
            f"(required {cfg.min_argmax_agreement:g}); check the export opset (export.opset) and unsupported layers"
        )


MODEL_DESCRIPTION = (
    "The image classifier that netinv audits, exported to ONNX (one file, dynamic batch, normalisation "
    "inside the graph). Input: float32 images (N, C, H, W) with pixels in [0, 1]; output: logits (N, "
    "classes), in the order of the version tag `class_names`. Each `dvc repro` that changes the classifier "
    "registers a version as @candidate (the export stage, after the parity check against PyTorch); the "
    "promotion gate (pipeline/promotion.py: `make repro` or `python -m pipeline train`) moves @champion to it "
    "when its checks pass and it is at least as good as the champion.")


def describe_candidate(client, name: str, version: str, data, args, metrics: dict) -> None:
    """Describe the new version, then make it @candidate: what a reader of the registry needs to use it: the
    class names (tag, and in the MLmodel metadata), the data it was trained on, the parity
    measured, the file's md5 (the gate checks it is the workspace's export) and descriptions."""
    client.update_registered_model(name, description=MODEL_DESCRIPTION)
    client.update_model_version(name, version, description=(
        f"ONNX export of {args.model} ({data.meta['dataset']}, {len(data.class_names)} classes), exported at "
        f"git commit {(git_commit() or 'unknown')[:12]}; parity with PyTorch on {metrics['num_compared']} test "
        f"images: max |logit diff| {metrics['max_abs_diff']:.2g}, argmax agreement "
        f"{metrics['argmax_agreement']:.4f}."))
    tags = {"class_names": json.dumps(list(data.class_names)), "dataset": data.meta["dataset"],
            "input": f"float32 (N, {', '.join(map(str, data.image_shape))}) in [0, 1]",
            "output": "logits (N, classes), in class_names order",
            ONNX_MD5_TAG: hashlib.md5(Path(args.onnx).read_bytes(), usedforsecurity=False).hexdigest()}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, "candidate", version)  # last: a candidate is always described


if __name__ == "__main__":
    runner.run(main, section="export", stage="export_onnx")
