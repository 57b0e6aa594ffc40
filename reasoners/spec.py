"""Pipeline spec strings: ``"sc(n=8,base=autocot(k=8,pool=qs.txt)) | trlm"`` and back.

Grammar::

    pipeline := term ("|" term)*
    term     := NAME[".paper"] ["(" [arg ("," arg)*] ")"]
    arg      := NAME "=" value
    value    := term | number | true | false | none | "quoted string" | bare-word

A bare word may be a file path (``pool=data/qs.txt``, ``demos=/tmp/demos.json``);
quote paths with spaces or commas.

The first term is a strategy; later terms are stages. Inside arguments, a
parameter whose type is a strategy (``base``) or a scorer (``scorer``) takes a
term; other bare words are strings. Names come from the registries that each
strategy, stage and scorer joins once (``@register``), and parameters from
their constructors, so a new strategy needs no parser change.
``name.paper`` builds the strategy's published configuration (its ``paper()``
classmethod), with arguments as overrides: ``fobar.paper(chains=4)``.
``to_spec(obj)`` writes the spec back, leaving out parameters at their defaults.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError, SpecError
from .pipeline import Pipeline
from .scorers import SCORERS, Scorer
from .strategies.base import REGISTRY, STAGES, Stage, Strategy
from .trace import plain

__all__ = ["parse_spec", "to_spec", "SpecError"]


_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_./~][\w.\-/~]*)|(?P<num>-?\d+(?:\.\d+)?)|(?P<str>\"(?:[^\"\\]|\\.)*\")|(?P<op>[(),=|]))")


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _lex(text: str) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise SpecError(_where(text, len(text) - len(text[pos:].lstrip()), "unexpected character"))
        kind = m.lastgroup or "op"
        toks.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    toks.append(_Tok("end", "", len(text)))
    return toks


def _where(text: str, pos: int, message: str) -> str:
    return f"{message} at position {pos}:\n  {text}\n  {' ' * pos}^"


class _Parser:
    def __init__(self, text: str, files: bool = True) -> None:
        self.text = text
        self.files = files
        self.toks = _lex(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, message: str, tok: _Tok | None = None) -> SpecError:
        return SpecError(_where(self.text, (tok or self.tok).pos, message))

    def expect(self, text: str) -> None:
        if self.tok.text != text or self.tok.kind not in ("op",):
            raise self.fail(f"expected {text!r}, found {self.tok.text or 'the end'!r}")
        self.i += 1

    def pipeline(self) -> Strategy:
        first = self.term(REGISTRY, "strategy")
        stages = []
        while self.tok.kind == "op" and self.tok.text == "|":
            self.i += 1
            stages.append(self.term(STAGES, "stage"))
        if self.tok.kind != "end":
            raise self.fail(f"unexpected {self.tok.text!r}")
        assert isinstance(first, Strategy)
        return Pipeline(first, stages) if stages else first

    MAX_DEPTH = 16

    def term(self, registry: dict[str, type], role: str) -> Any:
        tok = self.tok
        self.depth = getattr(self, "depth", 0) + 1
        try:
            if self.depth > self.MAX_DEPTH:
                raise self.fail(f"the spec nests more than {self.MAX_DEPTH} deep")
            return self._term(tok, registry, role)
        finally:
            self.depth -= 1

    def _term(self, tok: _Tok, registry: dict[str, type], role: str) -> Any:
        if tok.kind != "name":
            raise self.fail(f"expected a {role} name, found {tok.text or 'the end'!r}")
        name, _, preset = tok.text.partition(".")
        if name not in registry:
            raise self.fail(f"unknown {role} {name!r} (known: {', '.join(sorted(registry))})", tok)
        cls = registry[name]
        if preset and (preset != "paper" or not callable(getattr(cls, "paper", None))):
            presets = [f"{n}.paper" for n, c in sorted(registry.items()) if callable(getattr(c, "paper", None))]
            raise self.fail(f"{name} has no preset {preset!r} (presets: {', '.join(presets) or 'none'})", tok)
        build: Any = cls.paper if preset else cls  # type: ignore[attr-defined]
        self.i += 1
        params: typing.Mapping[str, inspect.Parameter] = inspect.signature(build).parameters
        kwargs: dict[str, Any] = {}
        if self.tok.kind == "op" and self.tok.text == "(":
            self.i += 1
            while not (self.tok.kind == "op" and self.tok.text == ")"):
                key = self.tok
                if key.kind != "name":
                    raise self.fail(f"expected a parameter name, found {key.text or 'the end'!r}")
                takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
                if preset and takes_any:  # a preset takes any of the constructor's parameters as overrides
                    params = {**inspect.signature(cls).parameters, **{k: v for k, v in params.items()
                                                                       if v.kind != v.VAR_KEYWORD}}
                if key.text not in params or key.text == "self":
                    known = ", ".join(p for p in params if p != "self")
                    raise self.fail(f"{tok.text} has no parameter {key.text!r} (known: {known})", key)
                if key.text in kwargs:
                    raise self.fail(f"parameter {key.text!r} given twice", key)
                self.i += 1
                self.expect("=")
                kwargs[key.text] = self.value(_role_of(params[key.text]))
                if self.tok.kind == "op" and self.tok.text == ",":
                    self.i += 1
                elif not (self.tok.kind == "op" and self.tok.text == ")"):
                    raise self.fail(f"expected ',' or ')', found {self.tok.text or 'the end'!r}")
            self.i += 1
        hints = _hints(cls)  # a preset's overrides are the constructor's parameters
        for key_name, value in kwargs.items():
            if not self.files and isinstance(value, str) and _takes_path(hints.get(key_name)):
                raise SpecError(_where(self.text, tok.pos, f"bad {tok.text}: {key_name} would read the file "
                                       f"{value!r}; file paths are not accepted here"))
            problem = _type_problem(hints.get(key_name), value)
            if problem:
                raise SpecError(_where(self.text, tok.pos,
                                       f"bad {tok.text}: {key_name} takes {problem}; got {value!r}"))
        try:
            return build(**kwargs)
        except ConfigError as e:
            raise SpecError(_where(self.text, tok.pos, f"bad {tok.text}: {e}")) from e
        except TypeError as e:
            raise SpecError(_where(self.text, tok.pos, f"bad parameters for {tok.text}: {e}")) from e

    def value(self, role: str | None) -> Any:
        tok = self.tok
        if role == "strategy":
            return self.term(REGISTRY, "strategy")
        if role == "scorer":
            return self.term(SCORERS, "scorer")
        self.i += 1
        if tok.kind == "num":
            return float(tok.text) if "." in tok.text else int(tok.text)
        if tok.kind == "str":
            try:
                text = json.loads(tok.text)
                text.encode("utf-8")
            except (ValueError, UnicodeEncodeError) as e:
                raise self.fail(f"bad string {tok.text[:40]!r}: {e}", tok) from None
            return text
        if tok.kind == "name":
            return {"true": True, "false": False, "none": None}.get(tok.text.lower(), tok.text)
        raise self.fail(f"expected a value, found {tok.text or 'the end'!r}", tok)


def _hints(cls: type) -> dict[str, Any]:
    """The constructor's resolved annotations (empty where they cannot be resolved)."""
    try:
        return typing.get_type_hints(getattr(cls, "__init__"))
    except Exception:  # an annotation naming something not importable here: check nothing
        return {}


def _type_problem(hint: Any, value: Any) -> str | None:
    """What ``hint`` takes, when a spec ``value`` is not one of it; None when it fits or cannot be told."""
    if hint is None or hint is Any:
        return None
    origin = typing.get_origin(hint)
    if origin is Literal:
        options = typing.get_args(hint)
        return None if value in options else "one of " + ", ".join(repr(o) for o in options)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        problems = [_type_problem(a, value) for a in args if a is not type(None)]
        return None if any(p is None for p in problems) else " or ".join(p for p in problems if p)
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "a whole number"
    if hint is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "a number"
    if hint in (str, Path):
        return None if isinstance(value, str) else "a string"
    if isinstance(hint, type) and hint is not object and not isinstance(value, hint):
        return f"a {hint.__name__} object, which a spec cannot give (leave it out: the run's own is used)"
    return None  # sequences: the constructor checks those


def _takes_path(hint: Any) -> bool:
    """Whether a parameter typed ``hint`` takes a file path (and so reads a file)."""
    if hint is Path:
        return True
    return any(_takes_path(a) for a in typing.get_args(hint))


def _role_of(param: inspect.Parameter) -> str | None:
    note = str(param.annotation)
    if "Strategy" in note:
        return "strategy"
    if "Scorer" in note:
        return "scorer"
    return None


def parse_spec(text: str, *, files: bool = True) -> Strategy:
    """Build the strategy (or pipeline) a spec string describes. With ``files=False`` (specs from
    the network) a parameter that would read a file (``autocot(pool=...)``) is a :class:`SpecError`."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("empty spec")
    return _Parser(text, files).pipeline()


def _format(value: Any) -> str:
    if isinstance(value, (Strategy, Stage, Scorer)):
        return to_spec(value)
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        bare = re.fullmatch(r"[A-Za-z_]\w*", value) and value.lower() not in ("true", "false", "none")
        return value if bare else json.dumps(value)
    raise ConfigError(f"cannot write {type(value).__name__} value {value!r} into a spec")


def to_spec(obj: Strategy | Stage | Scorer) -> str:
    """The spec string for ``obj``; parameters at their defaults are left out."""
    if isinstance(obj, Pipeline):
        return " | ".join([to_spec(obj.generator), *(to_spec(s) for s in obj.stages)])
    try:
        baseline: Any = type(obj)()
    except (ConfigError, TypeError):
        baseline = None
    args = []
    for name, param in inspect.signature(type(obj)).parameters.items():
        if name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        value = _value(obj, name, param.default)
        default = param.default if baseline is None else _value(baseline, name, param.default)
        if default is not inspect.Parameter.empty and _same(value, default):
            continue
        args.append(f"{name}={_format(value)}")
    return f"{obj.name}({','.join(args)})" if args else obj.name


def _value(obj: Any, name: str, default: Any) -> Any:
    hook = getattr(obj, "spec_value", None)
    return hook(name, default) if callable(hook) else getattr(obj, name, default)


def _same(value: Any, default: Any) -> bool:
    """Equal for spec purposes: empty sequences match, objects compare by their config."""
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)) or default is None and value == ():
        return tuple(value) == tuple(default or ())
    return bool(plain(value) == plain(default))
