"""The one grammar of spec strings, for every place that reads them: pipelines (``parse_spec``), the
bench's strategy lists (``cot,sc:8``), task specs (``sudoku(max_empty=8)``) and the server's
``spec@model``. It only reads syntax; what a name means is for the builder (:mod:`reasoners.spec`).

Grammar::

    list     := spec ("," spec)*
    spec     := pipeline ["@" model]          model: the rest of the text, as written
    pipeline := term ("|" term)*
    term     := NAME [":" INT] ["(" [arg ("," arg)*] ")"]      NAME may end in ".paper"
    arg      := NAME "=" value
    value    := term | number | true | false | none | "quoted string" | bare-word

A name not followed by ``(`` is a :class:`Word` (``base=cot``, ``pool=data/qs.txt``): the builder
reads it as a term where the parameter takes a strategy or scorer, else as a string. ``name:N``
is short for ``name(n=N)``. A syntax error is a :class:`SpecError` that points at the position.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import SpecError

__all__ = ["Term", "Word", "Spec", "parse_list", "parse_one", "parse_term", "split_model", "where"]

MAX_DEPTH = 16

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_./~][\w.\-/~]*)|(?P<num>-?\d+(?:\.\d+)?)|(?P<str>\"(?:[^\"\\]|\\.)*\")"
                    r"|(?P<op>[(),=|:]))")


@dataclass(frozen=True)
class Word:
    """A bare word as a value: a strategy's name or a string, as its parameter decides."""

    text: str
    pos: int


@dataclass(frozen=True)
class Term:
    """``name(arg=value, ...)``; ``count`` is ``name:N``'s N. ``args`` keep their positions for errors."""

    name: str
    pos: int
    args: dict[str, Any] = field(default_factory=dict)
    arg_pos: dict[str, int] = field(default_factory=dict)
    count: int | None = None

    @property
    def base(self) -> str:
        """The name before any ``.preset``."""
        return self.name.partition(".")[0]

    @property
    def preset(self) -> str:
        """The preset after the name's dot (``paper``), or ``""``."""
        return self.name.partition(".")[2]


@dataclass(frozen=True)
class Spec:
    """One pipeline (a first term and its stages), the model after ``@`` if any, and its source text."""

    terms: tuple[Term, ...]
    text: str
    model: str | None = None


def where(text: str, pos: int, message: str) -> str:
    """``message`` with ``text`` and a caret under ``pos``."""
    return f"{message} at position {pos}:\n  {text}\n  {' ' * pos}^"


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _lex(text: str, start: int = 0, end: int | None = None) -> list[_Tok]:
    end = len(text) if end is None else end
    toks, pos = [], start
    while pos < end:
        if text[pos:end].strip() == "":
            break
        m = _TOKEN.match(text, pos, end)
        if not m:
            raise SpecError(where(text, len(text[:end]) - len(text[pos:end].lstrip()), "unexpected character"))
        kind = m.lastgroup or "op"
        toks.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    toks.append(_Tok("end", "", end))
    return toks


def split_model(text: str) -> tuple[str | None, str]:
    """``"<spec>@<model>"`` as (spec, model), split at the first ``@`` outside parentheses and quotes;
    text with no such ``@`` is (None, text). Either side empty is a :class:`SpecError`."""
    at = _top_level_at(text)
    if at is None:
        return None, text
    spec, model = text[:at].strip(), text[at + 1:].strip()
    if not spec or not model:
        raise SpecError(f"{text!r}: give '<strategy spec>@<model>', both parts")
    return spec, model


def _top_level_at(text: str) -> int | None:
    depth, quoted, escaped = 0, False, False
    for i, ch in enumerate(text):
        if quoted:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "@" and depth == 0:
            return i
    return None


class _Parser:
    def __init__(self, text: str, end: int | None = None) -> None:
        self.text = text
        self.toks = _lex(text, 0, end)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def at(self, op: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == op

    def fail(self, message: str, tok: _Tok | None = None) -> SpecError:
        return SpecError(where(self.text, (tok or self.tok).pos, message))

    def found(self) -> str:
        return repr(self.tok.text) if self.tok.text else "the end"

    def pipeline(self) -> tuple[Term, ...]:
        terms = [self.term("a strategy name")]
        while self.at("|"):
            self.i += 1
            terms.append(self.term("a stage name"))
        return tuple(terms)

    def term(self, what: str) -> Term:
        tok = self.tok
        if tok.kind != "name":
            raise self.fail(f"expected {what}, found {self.found()}")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"the spec nests more than {MAX_DEPTH} deep")
        self.i += 1
        count = None
        if self.at(":"):
            self.i += 1
            if self.tok.kind != "num" or not self.tok.text.isdigit() or int(self.tok.text) < 1:
                raise self.fail(f"bad sample count in {tok.text}: write {tok.text}:N with N >= 1")
            count = int(self.tok.text)
            self.i += 1
        args: dict[str, Any] = {}
        arg_pos: dict[str, int] = {}
        if self.at("("):
            self.i += 1
            while not self.at(")"):
                key = self.tok
                if key.kind != "name" or "." in key.text or "/" in key.text:
                    raise self.fail(f"expected a parameter name, found {self.found()}")
                if key.text in args:
                    raise self.fail(f"parameter {key.text!r} given twice", key)
                self.i += 1
                if not self.at("="):
                    raise self.fail(f"expected '=', found {self.found()}")
                self.i += 1
                arg_pos[key.text] = key.pos
                args[key.text] = self.value()
                if self.at(","):
                    self.i += 1
                elif not self.at(")"):
                    raise self.fail(f"expected ',' or ')', found {self.found()}")
            self.i += 1
        self.depth -= 1
        return Term(tok.text, tok.pos, args, arg_pos, count)

    def value(self) -> Any:
        tok = self.tok
        if tok.kind == "name":
            nxt = self.toks[self.i + 1]
            if nxt.kind == "op" and nxt.text in ("(", ":"):
                return self.term("a name")
            self.i += 1
            lowered = tok.text.lower()
            if lowered in ("true", "false", "none"):
                return {"true": True, "false": False, "none": None}[lowered]
            return Word(tok.text, tok.pos)
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
        raise self.fail(f"expected a value, found {repr(tok.text) if tok.text else 'the end'}", tok)

    def end(self) -> None:
        if self.tok.kind != "end":
            raise self.fail(f"unexpected {self.tok.text!r}")


def parse_one(text: str, *, model: bool = False) -> Spec:
    """One pipeline spec; with ``model=True`` it may end in ``@model``."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("empty spec")
    at = _top_level_at(text) if model else None
    parser = _Parser(text, at)
    terms = parser.pipeline()
    parser.end()
    if at is not None:
        name = text[at + 1:].strip()
        if not name:
            raise SpecError(where(text, at, "no model after '@'"))
        return Spec(terms, text[:at].strip(), name)
    return Spec(terms, text.strip())


def parse_list(text: str) -> list[Spec]:
    """Comma-separated pipeline specs (``"cot, sc:8, bon(n=4) | trlm"``); each keeps its own text."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("no strategies given")
    parser = _Parser(text)
    specs = []
    while True:
        start = parser.tok.pos
        if parser.at(",") or parser.tok.kind == "end":
            raise parser.fail("an empty strategy in the list (two commas, or one at an end?)")
        terms = parser.pipeline()
        specs.append(Spec(terms, text[start:parser.tok.pos].strip()))
        if parser.at(","):
            parser.i += 1
            continue
        parser.end()
        return specs


def parse_term(text: str) -> Term:
    """A single ``name(key=value, ...)`` (task specs); bare words stay :class:`Word`."""
    if not isinstance(text, str) or not text.strip():
        raise SpecError("empty spec")
    parser = _Parser(text)
    term = parser.term("a name")
    parser.end()
    return term
