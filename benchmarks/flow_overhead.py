"""What the Prefect flow adds over plain `dvc repro` when nothing has changed.

A temporary git + DVC repository with STAGES trivial stages (the real pipeline has 9),
reproduced once; then, on the unchanged workspace, the wall time of `dvc repro` against
a run of `pipeline.training.training_pipeline` (promotion off): the first flow call of a
process (it starts Prefect's temporary server) and the following ones (server running).
Writes benchmarks/results/flow_overhead.json.

    python benchmarks/flow_overhead.py [--stages 9] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stages", type=int, default=9)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/flow_overhead.json")
    args = p.parse_args()
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    for key in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        os.environ.setdefault(key, "bench")
    for key in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        os.environ.setdefault(key, "bench@localhost")
    with tempfile.TemporaryDirectory(prefix="flow-overhead-") as tmp:
        work = Path(tmp)
        os.chdir(work)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
        stages = {f"s{i}": {"cmd": f"echo {i} > out{i}.txt", "deps": [f"out{i - 1}.txt"] if i else [],
                            "outs": [f"out{i}.txt"]} for i in range(args.stages)}
        (work / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}))
        (work / "params.yaml").write_text((ROOT / "params.yaml").read_text())
        for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["dvc", "repro", "-q"], ["git", "add", "-A"],
                    ["git", "commit", "-qm", "bench"]):
            subprocess.run(cmd, check=True, capture_output=True)
        dvc = [timed(lambda: subprocess.run(["dvc", "repro"], check=True, capture_output=True))
               for _ in range(args.repeats)]
        sys.path.insert(0, str(ROOT))
        from pipeline.training import training_pipeline

        def flow_once() -> None:
            result = training_pipeline(promote=False)
            assert set(result["stages"].values()) == {"up to date"}, result["stages"]

        first = timed(flow_once)
        warm = [timed(flow_once) for _ in range(args.repeats)]
    result = {"stages": args.stages, "cpus": os.cpu_count(),
              "dvc_repro_noop_s": statistics.median(dvc), "flow_first_call_s": first,
              "flow_noop_s": statistics.median(warm), "overhead_s": statistics.median(warm) - statistics.median(dvc),
              "runs": {"dvc": dvc, "flow": warm}, "load_average_1min": os.getloadavg()[0]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
