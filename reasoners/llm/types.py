"""Plain data the LLM client returns: completions, token logprobs, scores, capabilities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..core.usage import Usage

__all__ = ["TokenLogprob", "Completion", "Score", "Capabilities", "UNSET"]


class _Unset:
    """Sentinel for "not given", distinct from None (which may be a real value, e.g. ``stop=None``)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()


@dataclass
class TokenLogprob:
    """A generated token, its logprob, and (when asked for with ``top_logprobs``) the logprobs of
    the ``top`` most likely tokens at its position, best first: what token confidence reads."""

    token: str
    logprob: float
    top: list[float] | None = None


@dataclass
class Completion:
    """One sampled completion.

    ``text`` is the final answer text only; a reasoning model's thinking is in
    ``reasoning`` (separated once, in :mod:`reasoners.llm.reasoning`), so nothing that
    parses ``text`` reads a draft from inside the thinking. ``index`` is the sample index
    within its request (the cache keys on it); ``logprobs`` (the final text's tokens) and
    ``reasoning_logprobs`` (the thinking's) are set when asked for and the backend has them.
    """

    text: str
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] | None = None
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    index: int = 0
    model: str = ""
    reasoning: str | None = None
    reasoning_logprobs: list[TokenLogprob] | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

    @property
    def abstained(self) -> str | None:
        """Why this sample has no final text to answer from, or None when it has one:
        ``"starved"`` (its thinking used up its tokens: cut off before any answer),
        ``"reasoning_only"`` (it thought and stopped without an answer), ``"empty"``."""
        if self.text.strip():
            return None
        if self.reasoning:
            return "starved" if self.truncated else "reasoning_only"
        return "empty"

    @property
    def logprob(self) -> float | None:
        """Sum of token logprobs, or None."""
        return None if not self.logprobs else float(sum(t.logprob for t in self.logprobs))

    @property
    def mean_logprob(self) -> float | None:
        """Mean token logprob (length-normalised), or None."""
        return None if not self.logprobs else float(sum(t.logprob for t in self.logprobs) / len(self.logprobs))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["usage"] = asdict(self.usage)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Completion:
        d = dict(d)
        d["usage"] = Usage.from_dict(d.get("usage") or {})
        for name in ("logprobs", "reasoning_logprobs"):
            if d.get(name) is not None:
                d[name] = [TokenLogprob(**t) for t in d[name]]
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass
class Score:
    """Per-token log P(continuation | prompt): ``tokens[i]`` has ``logprobs[i]``."""

    tokens: list[str]
    logprobs: list[float]
    usage: Usage = field(default_factory=Usage)
    cached: bool = False

    @property
    def total(self) -> float:
        return float(sum(self.logprobs))

    @property
    def mean(self) -> float:
        return float(sum(self.logprobs) / len(self.logprobs)) if self.logprobs else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "logprobs": self.logprobs, "usage": asdict(self.usage), "cached": self.cached}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Score:
        return cls(d["tokens"], d["logprobs"], Usage.from_dict(d.get("usage") or {}), d.get("cached", False))


@dataclass
class Capabilities:
    """What a backend can do. None means unknown (probed on first use).

    - ``n``: several samples in one request; without it the client sends
      concurrent single requests with distinct seeds.
    - ``logprobs``: token logprobs of generated text.
    - ``prompt_logprobs``: logprobs of given text (``LLM.score``).
    - ``seed``: honours a sampling seed.
    - ``thinks``: a reasoning model that thinks before it answers (litellm's model info,
      else learned from the first reply that carries thinking).
    """

    n: bool | None = None
    logprobs: bool | None = None
    prompt_logprobs: bool | None = None
    seed: bool | None = None
    thinks: bool | None = None

    def merged(self, override: Capabilities | Mapping[str, bool] | None) -> Capabilities:
        if override is None:
            return Capabilities(**asdict(self))
        extra = asdict(override) if isinstance(override, Capabilities) else dict(override)
        unknown = set(extra) - {f.name for f in fields(self)}
        if unknown:
            from ..core.errors import ConfigError

            raise ConfigError(f"unknown capabilities: {sorted(unknown)}; known: n, logprobs, prompt_logprobs, seed, thinks")
        base = asdict(self)
        base.update({k: v for k, v in extra.items() if v is not None})
        return Capabilities(**base)
