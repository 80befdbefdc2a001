#!/usr/bin/env bash
# A prepared run of the `invert` stage at GPU scale: larger generator, batch and step
# budget, CUDA with bf16 autocast (device: auto). Finishes in under 5 minutes on one
# H100/H200-class GPU; prints and writes the throughput (benchmarks/results/gpu_check.json,
# and $OUT/gpu_check.json when OUT is set).
#
#   bash benchmarks/gpu_check.sh            # needs the environment of `make setup`
#
# It trains the classifier and the evaluator first when models/ lacks them (on the GPU,
# about a minute), then inverts with the GPU profile below.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-sqlite:///$PWD/mlflow.db}"
work=$(mktemp -d)
python - "$work/params.yaml" <<'PY'
import sys, yaml
params = yaml.safe_load(open("params.yaml"))
params["invert"].update(steps=3000, batch_size=1024, width=128, latent_dim=128, samples_per_class=1000,
                        checkpoint_every=500, device="auto")
yaml.safe_dump(params, open(sys.argv[1], "w"), sort_keys=False)
PY
[ -f data/prepared/meta.json ] || python -m stages.prepare --params "$work/params.yaml" --out data/prepared \
  --profile "$work/profile.json" --validation "$work/validation.json"
for role in classifier evaluator; do
  [ -f "models/$role.pt" ] || python -m stages.train "$role" --params "$work/params.yaml" --data data/prepared \
    --model "models/$role.pt" --metrics "$work/$role.json" --plots "$work/$role"
done
[ -f models/classifier.onnx ] || python -m stages.export_onnx --params "$work/params.yaml" \
  --model models/classifier.pt --data data/prepared --onnx models/classifier.onnx --metrics "$work/onnx.json"
start=$(date +%s)
python -m stages.invert --params "$work/params.yaml" --classifier models/classifier.pt --onnx models/classifier.onnx \
  --evaluator models/evaluator.pt --data data/prepared --generator "$work/generator.pt" --samples "$work/inversion" \
  --metrics "$work/inversion.json" --plots "$work/plots" --checkpoint "$work/checkpoint.pt"
end=$(date +%s)
mkdir -p benchmarks/results
python - "$work/inversion.json" "$((end - start))" <<'PY'
import json, os, sys, torch
m = json.load(open(sys.argv[1]))
out = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
       "stage_wall_seconds": int(sys.argv[2]), "train_seconds": m["train_seconds"], "steps": m["steps"],
       "train_images_per_second": m["steps"] * 1024 / m["train_seconds"],
       "samples_per_second": m["samples_per_second"], "peak_memory_mb": m["peak_memory_mb"],
       **{k: m.get(k) for k in ("fidelity", "eval_agreement", "coverage", "coverage_real", "pixel_spread_ratio", "fid_eval")}}
print(json.dumps(out, indent=2))
for path in ["benchmarks/results/gpu_check.json"] + ([os.environ["OUT"] + "/gpu_check.json"] if os.environ.get("OUT") else []):
    json.dump(out, open(path, "w"), indent=2)
PY
