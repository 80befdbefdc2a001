"""The audit's two entry points, shared by the `audit` stage and the Prefect flow.

`prepare(reference, params, profile_name, work_dir)` loads what the audit works on: the
reference data (`audit.data`), the judge (`audit.evaluator`), the device and the model under
audit (audit.model). `run(setup)` does the rest: invert and validate (audit.inversion), run
the profile's probes (audit.probes), compare with the previous audit, write the report and
log the MLflow run (audit.outcome). The flow runs the same steps as one task each.
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
from netinv.errors import NetinvError
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
    device: torch.device
    model: AuditModel
    work_dir: Path  # holds a downloaded registered model: must outlive `run`

    def probe_context(self, inversion: Inversion) -> ProbeContext:
        return ProbeContext(self.model, self.data, inversion, self.evaluator, self.params, self.profile,
                            self.profile_name, self.device, self.work_dir)


def prepare(reference: str, params: Params, profile_name: str | None, work_dir: Path) -> AuditSetup:
    """Load the data, the judge, the device and the model under audit (`audit.profile` when no profile is named)."""
    profile_name = profile_name or params.audit.profile
    profile = params.audit.get_profile(profile_name)  # an unknown profile fails before anything loads
    data = load_prepared(params.audit.data)
    evaluator = load_model(params.audit.evaluator)
    device = resolve_device(params.invert.device)
    model = resolve_model(reference, data, profile, work_dir)
    return AuditSetup(params, profile_name, profile, data, evaluator, device, model, work_dir)


def run(setup: AuditSetup, out_root: Path | None = None, extra_tags: dict[str, str] | None = None) -> AuditResult:
    """Invert, validate, probe, compare, report, log: the audit's verdict (`out_root`: default `audit.reports`)."""
    inversion = invert(setup.model, setup.evaluator, setup.data, setup.params, setup.profile_name, setup.device)
    validation = validate(inversion, setup.model, setup.evaluator, setup.data, setup.profile)
    probes = run_probes(setup.probe_context(inversion))
    return finish(setup.model, inversion, validation, probes, setup.data.class_names, setup.params,
                  setup.profile_name, Path(out_root or setup.params.audit.reports), extra_tags)
