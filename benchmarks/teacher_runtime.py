"""The distillation teacher on CPU: eager PyTorch against onnxruntime, alone and inside a student step.

The `distill` stage's four students each run the teacher on every batch they see, and on
a few CPU cores that forward pass was most of a student's cost. This times, on the
committed models (`models/classifier.pt` and its export `models/classifier.onnx`):

- the teacher's forward pass on one batch (`distill.batch_size`): PyTorch, onnxruntime
  with its default spinning threads, and onnxruntime with spinning off;
- one whole student step as the stage runs it (draw from the released samples, shift,
  CutMix, teacher, student forward, backward, AdamW), with each teacher.

Spinning matters in the second case only: an onnxruntime thread that spins after its call
keeps a core busy while PyTorch runs the student. Writes
benchmarks/results/teacher_runtime.json. Needs `dvc repro export invert`.

    python benchmarks/teacher_runtime.py [--repeats 200]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from netinv.config.distill import DistillConfig, StudentConfig
from netinv.distill.sources import fixed_source
from netinv.distill.trainer import _batch, new_student
from netinv.export import OnnxRuntimeClassifier, median_latency_ms
from netinv.models import load_model
from netinv.splits import load_prepared
from netinv.training import descend, kd_loss
from stages.config import load_params

OUT = Path(__file__).resolve().parent / "results" / "teacher_runtime.json"
CPU = torch.device("cpu")


def student_step(teacher: torch.nn.Module, source, student_config: StudentConfig, config: DistillConfig):
    """A closure running one step of the stage's student loop with `teacher`."""
    student = new_student(student_config, 0).train()
    optimizer = torch.optim.AdamW(student.parameters(), lr=config.lr)
    rng, augment_rng = torch.Generator().manual_seed(0), torch.Generator().manual_seed(1)

    def step() -> None:
        x = _batch(source, config, rng, augment_rng, CPU)
        with torch.no_grad():
            target = teacher(x).float()
        descend(kd_loss(student(x), target, config.temperature), optimizer, config="DistillConfig",
                diverged="distillation loss became {loss}")

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=200)
    args = p.parse_args()
    params = load_params()
    config = params.distill.build(DistillConfig)
    data = load_prepared("data/prepared")
    student_config = params.distill.build(StudentConfig, **data.model_shape())
    with np.load("outputs/inversion/samples.npz", allow_pickle=False) as saved:
        source = fixed_source(saved["images"])
    threads = torch.get_num_threads()
    teachers = {
        "pytorch": load_model("models/classifier.pt", CPU).eval(),
        "onnxruntime_spinning": OnnxRuntimeClassifier("models/classifier.onnx", threads=threads),
        "onnxruntime": OnnxRuntimeClassifier("models/classifier.onnx", threads=threads, spin=False),
    }
    batch = torch.rand(config.batch_size, *data.image_shape)
    result: dict[str, object] = {"threads": threads, "batch_size": config.batch_size, "torch": torch.__version__}
    for name, teacher in teachers.items():
        with torch.no_grad():
            result[f"forward_ms_{name}"] = median_latency_ms(lambda t=teacher: t(batch), args.repeats, warmup=10)
        result[f"student_step_ms_{name}"] = median_latency_ms(
            student_step(teacher, source, student_config, config), args.repeats, warmup=10)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}, indent=2))


if __name__ == "__main__":
    main()
