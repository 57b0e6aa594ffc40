"""A strategy's, stage's or scorer's settings, declared once as dataclass fields.

Each registered class is a frozen dataclass (``@settings``); its fields are the one declaration
that validation (:func:`check_fields`, run after construction), ``config()``, spec parsing and
printing (:mod:`reasoners.spec`) and the docs tables read. :func:`param` adds a field's bounds::

    @register("sc")
    @settings
    class SelfConsistency(Strategy):
        base: Strategy = param(factory=ChainOfThought, kw_only=False)
        n: int = param(default=8, ge=1)
        vote: Literal["majority", "weighted"] = "majority"

A value of the wrong type (a ``Literal`` option included) or out of its bounds is a
:class:`ConfigError` naming the class, the field and what it takes.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

from typing_extensions import dataclass_transform

from ..core.errors import ConfigError

__all__ = ["settings", "param", "check_fields", "field_hints", "type_problem", "defaults"]

C = TypeVar("C", bound=type)


def param(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING, ge: float | None = None,
          gt: float | None = None, kw_only: bool = True) -> Any:
    """A field with bounds (``ge``: at least, ``gt``: above); ``factory`` builds a default per object;
    ``kw_only=False`` lets the first fields be passed by position (``SelfConsistency(base)``)."""
    return dataclasses.field(default=default, default_factory=factory, kw_only=kw_only,
                             metadata={"ge": ge, "gt": gt})


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(dataclasses.field, param))
def settings(cls: C) -> C:
    """Make ``cls`` a frozen, keyword-only dataclass of its settings (identity equality: two
    strategies with equal settings are still two objects)."""
    return dataclasses.dataclass(frozen=True, kw_only=True, eq=False)(cls)  # type: ignore[return-value]


@functools.cache
def field_hints(cls: Any) -> dict[str, Any]:
    """The resolved type of each of ``cls``'s fields (a field whose annotation cannot be resolved is left out)."""
    module = sys.modules.get(cls.__module__)
    namespace = {**vars(module)} if module else {}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        note = f.type
        try:
            out[f.name] = eval(note, namespace, dict(vars(cls))) if isinstance(note, str) else note  # noqa: S307
        except Exception:  # a name only imported for type checking: not checked here
            continue
    return out


def defaults(cls: type) -> dict[str, Any]:
    """Each field's default value (a factory called once), for fields that have one."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def check_fields(obj: Any) -> None:
    """Raise :class:`ConfigError` if a field of ``obj`` has a value its type or bounds do not allow."""
    cls: Any = type(obj)
    hints = field_hints(cls)
    for f in dataclasses.fields(obj):
        if not f.init:
            continue
        value = getattr(obj, f.name)
        problem = type_problem(hints.get(f.name), value)
        if problem is not None:
            raise ConfigError(f"{cls.__name__} {f.name} must be {problem}; got {value!r}")
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if f.metadata.get("ge") is not None and value < f.metadata["ge"]:
            raise ConfigError(f"{cls.__name__} {f.name} must be >= {f.metadata['ge']}; got {value}")
        if f.metadata.get("gt") is not None and value <= f.metadata["gt"]:
            raise ConfigError(f"{cls.__name__} {f.name} must be > {f.metadata['gt']}; got {value}")


def _options(options: tuple[Any, ...]) -> str:
    return "one of " + ", ".join(repr(o) for o in options)


def type_problem(hint: Any, value: Any) -> str | None:
    """What ``hint`` takes, when ``value`` is not one of it; None when it fits or cannot be told."""
    if hint is None or hint is Any:
        return None
    origin = typing.get_origin(hint)
    if origin is Literal:
        options = typing.get_args(hint)
        return None if value in options else _options(options)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        problems = [type_problem(a, value) for a in args if a is not type(None)]
        return None if any(p is None for p in problems) else " or ".join(p for p in problems if p)
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "a whole number"
    if hint is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "a number"
    if hint in (str, Path):
        return None if isinstance(value, str) or (hint is Path and isinstance(value, Path)) else "a string"
    if isinstance(hint, type) and hint is not object and not isinstance(value, hint):
        return f"a {hint.__name__} object"
    return None  # sequences, callables: the class checks those
