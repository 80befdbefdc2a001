"""Merge a params profile (`profiles/NAME.yaml`) over params.yaml, e.g. the CI-sized `tiny`.

`python -m stages.profile tiny` rewrites params.yaml in place with the override applied
and validated; `git checkout params.yaml` restores the defaults. Not a DVC stage.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from netinv.atomic import write_text
from stages import runner
from stages.config import ParamsError, validate_params
from stages.schema import deep_merge

PROFILES = Path("profiles")


def apply_profile(params_path: Path, profile_path: Path) -> dict[str, Any]:
    if not profile_path.is_file():
        known = sorted(p.stem for p in profile_path.parent.glob("*.yaml"))
        raise ParamsError(f"profile {profile_path} not found; known profiles: {', '.join(known)}")
    merged = deep_merge(yaml.safe_load(params_path.read_text()), yaml.safe_load(profile_path.read_text()) or {})
    validate_params(merged, profile_path)  # refuse a profile with a typo before writing anything
    write_text(params_path, yaml.safe_dump(merged, sort_keys=False))
    return merged


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("profile", help="name of a file in profiles/ (without .yaml)")
    p.add_argument("--params", default="params.yaml", type=Path)
    args = p.parse_args(argv)
    apply_profile(args.params, PROFILES / f"{args.profile}.yaml")
    print(f"{args.params} now uses profile '{args.profile}'; `git checkout {args.params}` restores it")


if __name__ == "__main__":
    runner.run(main)
