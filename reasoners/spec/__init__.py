"""Spec strings to objects and back: ``"sc(n=8,base=autocot(k=8,pool=qs.txt)) | trlm"``.

The syntax is :mod:`reasoners.spec.grammar` (the one grammar: lists, ``name:N``, ``@model``).
Here names become objects: the first term is a strategy, later terms are stages; inside
arguments, a parameter whose type is a strategy (``base``) or a scorer (``scorer``) takes a
term, and other bare words are strings (file paths included: ``pool=data/qs.txt``; quote
paths with spaces or commas). Names come from the registries that each strategy, stage and
scorer joins once (``@register``), and parameters from their declared fields, so a new
strategy needs no parser change. ``name.paper`` builds the published configuration (its
``paper()`` classmethod), with arguments as overrides: ``fobar.paper(chains=4)``.
``to_spec(obj)`` writes the spec back, leaving out parameters at their defaults.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import typing
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError, SpecError
from ..core.trace import plain
from ..strategies.base import REGISTRY, STAGES, Pipeline, Stage, Strategy
from ..strategies.params import defaults, field_hints, type_problem
from ..strategies.scorers import SCORERS, Scorer
from .grammar import Term, Word, parse_list, parse_one, where

__all__ = ["parse_spec", "parse_strategies", "to_spec", "SpecError"]


class _Builder:
    """Objects from the grammar's terms, checked against the registries and the parameters' types."""

    def __init__(self, text: str, files: bool) -> None:
        self.text, self.files = text, files

    def fail(self, pos: int, message: str) -> SpecError:
        return SpecError(where(self.text, pos, message))

    def pipeline(self, terms: tuple[Term, ...]) -> Strategy:
        first = self.term(terms[0], REGISTRY, "strategy")
        stages = [self.term(t, STAGES, "stage") for t in terms[1:]]
        return Pipeline(first, stages) if stages else first

    def term(self, term: Term, registry: dict[str, type], role: str) -> Any:
        if term.base not in registry:
            raise self.fail(term.pos, f"unknown {role} {term.base!r} (known: {', '.join(sorted(registry))})")
        cls = registry[term.base]
        if term.preset and (term.preset != "paper" or not callable(getattr(cls, "paper", None))):
            presets = [f"{n}.paper" for n, c in sorted(registry.items()) if callable(getattr(c, "paper", None))]
            raise self.fail(term.pos, f"{term.base} has no preset {term.preset!r} (presets: {', '.join(presets) or 'none'})")
        build: Any = cls.paper if term.preset else cls  # type: ignore[attr-defined]
        params: dict[str, inspect.Parameter] = dict(inspect.signature(build).parameters)
        if term.preset and any(p.kind == p.VAR_KEYWORD for p in params.values()):
            # a preset takes any of the constructor's parameters as overrides
            params = {**inspect.signature(cls).parameters, **{k: v for k, v in params.items() if v.kind != v.VAR_KEYWORD}}
        params.pop("self", None)
        raw = dict(term.args)
        if term.count is not None:
            if "n" not in params:
                raise self.fail(term.pos, f"{role} {term.base!r} does not take ':N' (it has no n)")
            if "n" in raw:
                raise self.fail(term.pos, f"{term.name}:{term.count} gives n twice")
            raw["n"] = term.count
        hints = _hints(cls)  # a preset's overrides are the constructor's parameters
        kwargs: dict[str, Any] = {}
        for key, value in raw.items():
            pos = term.arg_pos.get(key, term.pos)
            if key not in params:
                known = ", ".join(params)
                raise self.fail(pos, f"{term.name} has no parameter {key!r} (known: {known})")
            value_role = _role_of(hints.get(key))
            if value_role is not None and isinstance(value, (Term, Word)):
                sub = value if isinstance(value, Term) else Term(value.text, value.pos)
                kwargs[key] = self.term(sub, REGISTRY if value_role == "strategy" else SCORERS, value_role)
                continue
            if value_role is not None:
                raise self.fail(pos, f"bad {term.name}: {key} takes a {value_role} name; got {value!r}")
            if isinstance(value, Term):
                raise self.fail(value.pos, f"{term.name}: {key} takes a value, not {value.name}(...)")
            if isinstance(value, Word):
                value = value.text
            if not self.files and isinstance(value, str) and _takes_path(hints.get(key)):
                raise self.fail(term.pos, f"bad {term.name}: {key} would read the file {value!r}; file paths are "
                                "not accepted here")
            problem = _type_problem(hints.get(key), value)
            if problem:
                raise self.fail(term.pos, f"bad {term.name}: {key} takes {problem}; got {value!r}")
            kwargs[key] = value
        try:
            return build(**kwargs)
        except ConfigError as e:
            raise self.fail(term.pos, f"bad {term.name}: {e}") from e
        except TypeError as e:
            raise self.fail(term.pos, f"bad parameters for {term.name}: {e}") from e


def _hints(cls: type) -> dict[str, Any]:
    """The types of ``cls``'s settings: its fields (empty where they cannot be resolved)."""
    return field_hints(cls) if dataclasses.is_dataclass(cls) else {}


def _type_problem(hint: Any, value: Any) -> str | None:
    problem = type_problem(hint, value)
    if problem is not None and problem.endswith(" object"):
        return problem + ", which a spec cannot give (leave it out: the run's own is used)"
    return problem


def _takes_path(hint: Any) -> bool:
    """Whether a parameter typed ``hint`` takes a file path (and so reads a file)."""
    if hint is Path:
        return True
    return any(_takes_path(a) for a in typing.get_args(hint))


def _role_of(hint: Any) -> str | None:
    """"strategy" or "scorer" when a setting typed ``hint`` takes one (so a spec gives it a term)."""
    for option in [hint, *typing.get_args(hint)]:
        if isinstance(option, type) and issubclass(option, Strategy):
            return "strategy"
        if isinstance(option, type) and issubclass(option, Scorer):
            return "scorer"
    return None


def parse_spec(text: str, *, files: bool = True) -> Strategy:
    """Build the strategy (or pipeline) a spec string describes. With ``files=False`` (specs from
    the network) a parameter that would read a file (``autocot(pool=...)``) is a :class:`SpecError`."""
    spec = parse_one(text)
    return _Builder(text, files).pipeline(spec.terms)


def parse_strategies(text: str) -> list[tuple[str, Strategy]]:
    """Comma-separated specs (``"cot,sc:8,bon(n=4,scorer=judge) | trlm"``) as (their own text, strategy)."""
    return [(spec.text, _Builder(text, True).pipeline(spec.terms)) for spec in parse_list(text)]


def _format(value: Any) -> str:
    if isinstance(value, (Strategy, Stage, Scorer)):
        return to_spec(value)
    if isinstance(value, (list, tuple)) and getattr(value, "path", None):  # demos or a pool read from a file
        return _format(getattr(value, "path"))
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        bare = re.fullmatch(r"[A-Za-z_]\w*", value) and value.lower() not in ("true", "false", "none")
        return value if bare else json.dumps(value)
    raise ConfigError(f"cannot write {type(value).__name__} value {value!r} into a spec")


def to_spec(obj: Strategy | Stage | Scorer) -> str:
    """The spec string for ``obj``; settings at their defaults are left out."""
    if isinstance(obj, Pipeline):
        return " | ".join([to_spec(obj.generator), *(to_spec(s) for s in obj.stages)])
    if not dataclasses.is_dataclass(obj):
        raise ConfigError(f"{type(obj).__name__} declares no settings (@settings): it has no spec")
    baseline = defaults(type(obj))
    args = []
    for f in dataclasses.fields(obj):
        if not f.init:
            continue
        value = getattr(obj, f.name)
        if f.name in baseline and _same(value, baseline[f.name]):
            continue
        args.append(f"{f.name}={_format(value)}")
    return f"{obj.name}({','.join(args)})" if args else obj.name


def _same(value: Any, default: Any) -> bool:
    """Equal for spec purposes: empty sequences match, objects compare by their spec."""
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)) or default is None and value == ():
        return tuple(value) == tuple(default or ())
    if isinstance(value, (Strategy, Stage, Scorer)) and isinstance(default, (Strategy, Stage, Scorer)):
        return type(value) is type(default) and to_spec(value) == to_spec(default)
    return bool(plain(value) == plain(default))
