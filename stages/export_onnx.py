"""Stage `export_onnx`: export the classifier to one ONNX file and prove it computes the same.

Parity is measured on the whole test set (max |logit difference|, argmax agreement),
latency at batch 1 and 256 for onnxruntime and PyTorch eager. The stage fails when
parity is outside `export.max_abs_diff` / `export.min_argmax_agreement`. On success
the ONNX model is logged to MLflow and registered with the alias `candidate`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

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
from stages.tracking import numeric_metrics, stage_run

log = logging.getLogger("stages.export_onnx")


def main(argv: Sequence[str] | None = None) -> None:
    p = common.parser(__doc__, model="classifier model file", data=common.DATA, onnx="ONNX file to write",
                      metrics="")
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
    log.info("parity: max |diff| %.2e, argmax agreement %.4f; latency b1 ort %.3f ms vs torch %.3f ms",
             result.max_abs_diff, result.argmax_agreement, metrics["ort_latency_ms_b1"], metrics["torch_latency_ms_b1"])
    failed = result.max_abs_diff > cfg.max_abs_diff or result.argmax_agreement < cfg.min_argmax_agreement
    with stage_run("export_onnx", params.mlflow.experiment, {"export": cfg.model_dump()}) as mlflow:
        mlflow.log_metrics(numeric_metrics(metrics))
        mlflow.set_tag("parity_passed", str(not failed))
        if not failed:
            import onnx

            info = mlflow.onnx.log_model(onnx.load(str(args.onnx)), name="onnx",
                                         registered_model_name=params.mlflow.registered_model)
            client = mlflow.MlflowClient()
            client.set_registered_model_alias(params.mlflow.registered_model, "candidate",
                                              info.registered_model_version)
            log.info("registered %s version %s as @candidate", params.mlflow.registered_model,
                     info.registered_model_version)
    if failed:
        raise ExportParityError(
            f"{args.onnx} disagrees with PyTorch: max |logit diff| {result.max_abs_diff:.3g} "
            f"(allowed {cfg.max_abs_diff:g}), argmax agreement {result.argmax_agreement:.4f} "
            f"(required {cfg.min_argmax_agreement:g}); check the export opset (export.opset) and unsupported layers"
        )


if __name__ == "__main__":
    runner.run(main, section="export")
