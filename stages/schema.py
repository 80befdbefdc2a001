"""How a params.yaml section is made from the core's config types, without declaring a field twice.

`section(...)` builds a strict pydantic model whose fields are the union of the fields of
one or more core config dataclasses (`InversionConfig`, `GeneratorConfig`, ...), with their
types, ranges and defaults taken from the core. Fields the data decides (`num_classes`,
`image_size`, ...) and the global `seed` are left out and given at `build()` time. Where a
consumer needs another default for the same core field (the reconstruction generator has
no dropout), the section says so in `defaults=`, next to its reason: the one place where a
value differs from the core's, and a test checks that nothing else does.

Consumers that need another budget (the ablation, OOD's generator, audit profiles) hold a
partial mapping of a section's keys, merged over the base section by `overridden()`, the
one validated merge.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model, model_validator

from netinv.errors import NetinvError

T = TypeVar("T")


class ParamsError(NetinvError, ValueError):
    """params.yaml is unreadable or invalid; the message lists every problem and the valid keys.

    A NetinvError, so that the stage runner reports it as the user's to fix (no traceback)."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def build(self, core: type[T], **given: Any) -> T:
        """The core config `core` from this section's fields of that name, plus the `given` ones."""
        ours = {f.name: getattr(self, f.name) for f in dataclasses.fields(core)
                if f.name in type(self).model_fields and f.name not in given}
        return core(**ours, **given)

    def overridden(self, overrides: Mapping[str, Any] | None, where: str) -> Self:
        """This section with `overrides` (a partial mapping of its keys, nested ones merged)
        applied and validated; errors name `where`, the key that holds the overrides."""
        if not overrides:
            return self
        merged = deep_merge(self.model_dump(), dict(overrides))
        try:
            return type(self).model_validate(merged)
        except ValidationError as exc:
            raise ParamsError(problems(exc, type(self), where)) from None


def deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        out[key] = (deep_merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, Mapping)
                    else value)
    return out


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return ...  # required


def section(name: str, *parts: type, exclude: tuple[str, ...] = (), only: dict[type, tuple[str, ...]] | None = None,
            defaults: Mapping[str, Any] | None = None, **extra: tuple[Any, Any]) -> type[Section]:
    """A strict section model with the fields of the core dataclasses `parts`.

    exclude: fields given at build time (data-derived, the seed); only: for a part, the only
    fields it contributes; defaults: per-use defaults (each a documented exception); extra:
    stage-only fields as (type, default), such as `device`.
    """
    fields: dict[str, Any] = {}
    owner: dict[str, type] = {}
    for part in parts:
        hints = typing.get_type_hints(part, include_extras=True)
        for f in dataclasses.fields(part):
            if f.name in exclude or (only and part in only and f.name not in only[part]):
                continue
            if f.name in owner:
                raise TypeError(f"{name}: field {f.name!r} is in both {owner[f.name].__name__} and {part.__name__}")
            owner[f.name] = part
            fields[f.name] = (hints[f.name], _field_default(f))
    for key, value in (defaults or {}).items():
        if key not in fields:
            raise TypeError(f"{name}: default for unknown field {key!r}")
        fields[key] = (fields[key][0], value)
    fields.update(extra)
    model = create_model(name, __base__=_CoreSection, **fields)
    model.core_parts = tuple(parts)
    model.per_use_defaults = dict(defaults or {})
    return model


class _CoreSection(Section):
    core_parts: typing.ClassVar[tuple[type, ...]] = ()
    per_use_defaults: typing.ClassVar[dict[str, Any]] = {}

    @model_validator(mode="after")
    def _core_checks(self) -> Self:
        """Build each core part that the section alone can build, so that its own cross-field
        checks (e.g. mode seeking needs an even batch) run when params.yaml is read."""
        for part in self.core_parts:
            required = {f.name for f in dataclasses.fields(part) if _field_default(f) is ...}
            if required <= set(type(self).model_fields):
                try:
                    self.build(part)
                except ValidationError as exc:  # re-raised as pydantic expects from a validator
                    raise ValueError("; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())) from None
        return self


# --- messages ------------------------------------------------------------------------------------

def field_names(tp: Any) -> list[str] | None:
    """The keys a mapping of type `tp` accepts, or None when `tp` is not a config type."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return sorted(tp.model_fields)
    if dataclasses.is_dataclass(tp):
        return sorted(f.name for f in dataclasses.fields(tp))
    return None


def _unwrap(tp: Any) -> Any:
    """Annotated[X, ...] -> X; X | None -> X."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _field_type(tp: Any, key: str) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(key)
        return None if field is None else field.annotation if not field.metadata else typing.Annotated[
            field.annotation, *field.metadata]
    if dataclasses.is_dataclass(tp):
        return typing.get_type_hints(tp, include_extras=True).get(key)
    if typing.get_origin(tp) is dict:
        return typing.get_args(tp)[1]  # loc steps through a user-named key (audit.profiles.NAME)
    return None


def valid_keys(root: type, loc: tuple) -> list[str]:
    """The keys valid where `loc` (minus its last item) points into the schema `root`."""
    tp: Any = root
    for key in loc[:-1]:
        tp = _field_type(tp, str(key))
        if tp is None:
            return []
    return field_names(tp) or []


def problems(exc: ValidationError, root: type, where: str = "") -> str:
    """One line per error, each naming the dotted key (under `where`) and, for an unknown key,
    the valid keys at that place."""
    lines = []
    for error in exc.errors():
        loc = tuple(str(p) for p in error["loc"])
        dotted = ".".join(filter(None, (where, *loc)))
        if error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            valid = valid_keys(root, loc)
            lines.append(f"unknown key '{dotted}'; valid keys here: {', '.join(valid) or '(none)'}")
        else:
            message = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            shown = "" if isinstance(got, dict) else f" (got {got!r})"  # a whole section is no help
            lines.append(f"'{dotted or '(top level)'}': {message}{shown}")
    return "invalid parameters:\n  - " + "\n  - ".join(lines)
