"""The audit's two entry points, shared by the `audit` stage and the Prefect flow.

`prepare(reference, params, profile_name, work_dir)` loads what the audit works on: the
reference data (`audit.data`), the judges (`audit.evaluator`, and `audit.heldout` for the
critical gate), the device and the model under audit (audit.model). `run(setup)` does the
rest: invert and validate (audit.inversion), run the profile's probes (audit.probes), compare
with the previous audit, write the report and log the MLflow run (audit.outcome). The flow
runs the same steps as one task each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from audit.config import AuditProfile
from audit.inversion import Inversion, invert, validate
from audit.model import AuditModel, resolve_model
from audit.outcome import AuditResult, finish
from audit.probes import ProbeContext, run_probes
from netinv.device import resolve_device
from netinv.errors import ModelFileError, NetinvError
from netinv.models import load_model
from netinv.splits import Prepared, load_prepared
from stages.config import Params

__all__ = ["AuditFailed", "AuditSetup", "prepare", "run"]


class AuditFailed(NetinvError):
    """The audited model failed critical checks; the message lists them."""


@dataclass
class AuditSetup:
    """What an audit works on, loaded once by `prepare`."""

    params: Params
    profile_name: str
    profile: AuditProfile
    data: Prepared
    evaluator: nn.Module  # the independent judge
    heldout: nn.Module  # the held-out judge: no sweep, default or threshold was chosen on it
    device: torch.device
    model: AuditModel
    work_dir: Path  # holds a downloaded registered model: must outlive `run`

    def probe_context(self, inversion: Inversion) -> ProbeContext:
        return ProbeContext(self.model, self.data, inversion, self.evaluator, self.params, self.profile,
                            self.profile_name, self.device, self.work_dir)


JUDGES = {"evaluator": "train@evaluator", "heldout": "train@heldout"}  # audit.KEY -> the stage that trains it


def judge_path(params: Params, key: str) -> Path:
    """The judge file `audit.KEY` (evaluator, heldout); a missing one is named with the stage that trains it."""
    path = Path(getattr(params.audit, key))
    if not path.is_file():
        raise ModelFileError(f"judge file {path} (audit.{key} in params.yaml) does not exist: train it with "
                             f"`dvc repro {JUDGES[key]}`, or point audit.{key} at a trained judge", rebuild=True)
    return path


def prepare(reference: str, params: Params, profile_name: str | None, work_dir: Path) -> AuditSetup:
    """Load the data, the judges, the device and the model under audit (`audit.profile` when no profile is named)."""
    profile_name = profile_name or params.audit.profile
    profile = params.audit.get_profile(profile_name)  # an unknown profile fails before anything loads
    data = load_prepared(params.audit.data)
    evaluator, heldout = (load_model(judge_path(params, key)) for key in JUDGES)
    device = resolve_device(params.invert.device)
    model = resolve_model(reference, data, profile, work_dir)
    return AuditSetup(params, profile_name, profile, data, evaluator, heldout, device, model, work_dir)


def run(setup: AuditSetup, out_root: Path | None = None, extra_tags: dict[str, str] | None = None) -> AuditResult:
    """Invert, validate, probe, compare, report, log: the audit's verdict (`out_root`: default `audit.reports`)."""
    inversion = invert(setup.model, setup.evaluator, setup.heldout, setup.data, setup.params, setup.profile_name,
                       setup.device)
    validation = validate(inversion, setup.model, setup.evaluator, setup.data, setup.profile)
    probes = run_probes(setup.probe_context(inversion))
    return finish(setup.model, inversion, validation, probes, setup.data.class_names, setup.params,
                  setup.profile_name, Path(out_root or setup.params.audit.reports), extra_tags)
