"""The call tree of a run: strategy spans with LLM calls as leaves.

A context variable holds the current span, so the LLM client can attach its
calls to whichever strategy span is active without strategies passing it
around (it is the only context variable in the toolkit, and tracing is
optional: with no active span nothing is recorded). Tasks started with
``asyncio.gather`` inherit the span that was current when they were created.

Secrets never enter a trace: requests are recorded from the client's own
request fields (which hold no keys), and :func:`redact` scrubs anything that
looks like a key or an auth header on the way in.
"""

from __future__ import annotations

import contextvars
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from .usage import Usage

__all__ = ["Span", "Trace", "span", "current_span", "redact", "plain"]

_current: contextvars.ContextVar[Span | None] = contextvars.ContextVar("reasoners_span", default=None)

_SECRET_KEYS = re.compile(r"(api[_-]?key|authorization|auth[_-]?token|secret|password|^headers$|extra_headers)", re.I)
_SECRET_VALUES = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+\S+|hf_[A-Za-z0-9]{8,}|AIza[0-9A-Za-z_\-]{20,})")


def plain(obj: Any) -> Any:
    """A JSON-ready copy: strategies and stages become their name and config, other objects their repr."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [plain(v) for v in obj]
    config = getattr(obj, "config", None)
    if callable(config):
        return {"name": getattr(obj, "name", type(obj).__name__), **plain(config())}
    if is_dataclass(obj) and not isinstance(obj, type):
        return plain(asdict(obj))
    return repr(obj)


def redact(obj: Any) -> Any:
    """A copy of ``obj`` with secret-looking keys dropped and key-like strings masked."""
    if isinstance(obj, dict):
        return {k: redact(v) for k, v in obj.items() if not (isinstance(k, str) and _SECRET_KEYS.search(k))}
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    if isinstance(obj, str):
        return _SECRET_VALUES.sub("[redacted]", obj)
    return obj


@dataclass
class Span:
    """One node: a strategy step (``kind="strategy"``) or a model call (``kind="llm"``/``"score"``)."""

    kind: str
    name: str
    attrs: dict[str, Any] = field(default_factory=dict)
    children: list[Span] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    start: float = field(default_factory=time.time)
    seconds: float = 0.0
    error: str | None = None
    listener: Callable[[Span], None] | None = field(default=None, repr=False, compare=False)
    on_start: Callable[[Span], None] | None = field(default=None, repr=False, compare=False)

    def add(self, child: Span) -> Span:
        child.listener, child.on_start = self.listener, self.on_start
        self.children.append(child)
        if child.on_start is not None:
            child.on_start(child)
        return child

    def walk(self) -> Iterator[Span]:
        yield self
        for c in self.children:
            yield from c.walk()

    def call_usage(self) -> Usage:
        """Sum of the usage of every model call at or below this span."""
        total = Usage()
        for s in self.walk():
            if s.kind in ("llm", "score"):
                total = total + s.usage
        return total

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "start": self.start,
            "seconds": round(self.seconds, 6),
        }
        if self.attrs:
            d["attrs"] = redact(plain(self.attrs))
        if self.kind in ("llm", "score") or self.usage.calls:
            d["usage"] = self.usage.to_dict()
        if self.error:
            d["error"] = self.error
        if self.children:
            d["children"] = [c.to_dict() for c in self.children]
        return d


class Trace:
    """The root of a run's call tree, exportable as JSON.

    ``listener``, if given, is called with every span as it ends (model calls
    included), ``on_start`` with every span as it opens, and ``on_event`` with every
    progress event a strategy reports (samples, votes, text): progress streaming uses
    them. ``text_events`` asks a run's single generation to stream its text as events.
    """

    def __init__(
        self, name: str = "run", *, listener: Callable[[Span], None] | None = None,
        on_start: Callable[[Span], None] | None = None, on_event: Callable[[Any], None] | None = None,
        text_events: bool = False, **attrs: Any,
    ) -> None:
        self.root = Span("run", name, attrs=dict(attrs), listener=listener, on_start=on_start)
        self.on_event = on_event
        self.text_events = text_events and on_event is not None

    def report(self, event: Any) -> None:
        """Hand a progress event to ``on_event`` (nothing happens without one)."""
        if self.on_event is not None:
            self.on_event(event)

    @contextmanager
    def activate(self) -> Iterator[Span]:
        """Make this trace's root the current span for the block."""
        token = _current.set(self.root)
        try:
            yield self.root
        finally:
            _current.reset(token)

    def calls(self) -> list[Span]:
        return [s for s in self.root.walk() if s.kind in ("llm", "score")]

    def to_dict(self) -> dict[str, Any]:
        return self.root.to_dict()

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(indent=2), encoding="utf-8")


def current_span() -> Span | None:
    return _current.get()


@contextmanager
def span(kind: str, name: str, **attrs: Any) -> Iterator[Span | None]:
    """Open a child span of the current one for the block; a no-op when nothing is being traced."""
    parent = _current.get()
    if parent is None:
        yield None
        return
    s = parent.add(Span(kind, name, attrs=dict(attrs)))
    token = _current.set(s)
    t0 = time.perf_counter()
    try:
        yield s
    except BaseException as e:
        s.error = f"{type(e).__name__}: {e}"
        raise
    finally:
        s.seconds = time.perf_counter() - t0
        _current.reset(token)
        if s.listener is not None:
            s.listener(s)
