"""params.yaml, the params schema and the core's config defaults must say the same thing.

Each parameter is declared once, in a core config dataclass; the stage layer's sections are
generated from those (stages/schema.py). These tests keep it that way: a default changed in
one place and not the other fails here, naming the key.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from stages import config as schema
from stages.config import Params, load_params

ROOT = Path(__file__).resolve().parents[2]


def leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted.key: value} for every leaf of a nested mapping."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(leaves(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): list(tree) if isinstance(tree, tuple) else tree}


def test_every_key_of_params_yaml_equals_its_default():
    written = leaves(yaml.safe_load((ROOT / "params.yaml").read_text()))
    defaults = leaves(Params().model_dump())
    differing = {key: (value, defaults.get(key, "<no such default>")) for key, value in written.items()
                 if defaults.get(key, "<no such default>") != value}
    assert not differing, f"params.yaml differs from the schema defaults (key: (params.yaml, default)): {differing}"


def test_params_yaml_validates_to_the_defaults():
    assert load_params(ROOT / "params.yaml") == Params()


GENERATED = [getattr(schema, name) for name in dir(schema)
             if isinstance(getattr(schema, name), type) and getattr(getattr(schema, name), "core_parts", ())]


@pytest.mark.parametrize("section", GENERATED, ids=lambda s: s.__name__)
def test_section_defaults_are_the_core_defaults(section):
    """Outside the few per-use defaults a section declares (each with its reason), every field's
    default is the core dataclass's own."""
    assert section.core_parts
    for part in section.core_parts:
        for field in dataclasses.fields(part):
            if field.name not in section.model_fields or field.name in section.per_use_defaults:
                continue
            core = field.default if field.default is not dataclasses.MISSING else (
                field.default_factory() if field.default_factory is not dataclasses.MISSING else None)
            assert section.model_fields[field.name].default == core, (section.__name__, part.__name__, field.name)


def test_per_use_defaults_really_differ_from_the_core():
    """A per-use default equal to the core's would be a second declaration for nothing."""
    for section in GENERATED:
        for name, value in section.per_use_defaults.items():
            core = next(f for part in section.core_parts for f in dataclasses.fields(part) if f.name == name)
            assert core.default != value, (section.__name__, name)
