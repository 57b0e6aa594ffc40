"""Sampling options: one typed object, merged once over the client's defaults, handed to every transport."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypedDict

from ..core.errors import ConfigError
from .types import UNSET

__all__ = ["SamplingOptions", "SamplingArgs", "sampling_args", "to_messages"]


class SamplingArgs(TypedDict, total=False):
    """The per-call sampling arguments of ``LLM.agenerate``/``generate``/``astream``: each one not
    given takes the client's default (see :class:`SamplingOptions`)."""

    temperature: float
    max_tokens: int
    top_p: float | None
    stop: str | list[str] | None
    seed: int | None
    reasoning_effort: str | None
    thinking_tokens: int | None
    top_logprobs: int | None
    stop_below: tuple[int, float] | None


_ARGS = frozenset(SamplingArgs.__annotations__)


def sampling_args(given: Any) -> SamplingArgs:
    """``given`` (a mapping, or None) checked as :class:`SamplingArgs`: unknown names are refused."""
    if given is None:
        return SamplingArgs()
    if not isinstance(given, dict) and not hasattr(given, "keys"):
        raise ConfigError(f"sampling must be a mapping of sampling options; got {type(given).__name__}")
    unknown = sorted(set(given) - _ARGS)
    if unknown:
        raise ConfigError(f"unknown sampling option {unknown[0]!r}; known: {', '.join(sorted(_ARGS))}")
    return SamplingArgs(**given)  # type: ignore[typeddict-item]


def to_messages(prompt: str | Any) -> list[dict[str, Any]]:
    """A prompt (a string, or chat messages) as checked chat messages."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise ConfigError("prompt is empty")
        return [{"role": "user", "content": prompt}]
    messages = [dict(m) for m in prompt]
    if not messages:
        raise ConfigError("messages is empty")
    for i, m in enumerate(messages):
        if m.get("role") not in ("system", "user", "assistant", "tool") or not isinstance(m.get("content"), str):
            raise ConfigError(f"messages[{i}] needs a role (system/user/assistant) and string content; got {m!r}")
    return messages


@dataclass(frozen=True)
class SamplingOptions:
    """How to sample one request. ``None`` means "not sent" (the backend's default applies).

    ``top_logprobs`` is set by the client where a server needs it to return
    logprobs at all (llama.cpp); ``reasoning_effort`` passes through to models
    that take it. ``thinking_tokens`` limits a reasoning model's thinking per call,
    mapped per provider by :func:`~reasoners.llm.reasoning.provider_fields` (0 turns
    thinking off where the provider allows it); ``max_tokens`` always bounds thinking and
    answer together. ``stop_below=(window, threshold)`` cuts the generation once its group
    confidence falls below ``threshold`` (see :mod:`reasoners.llm.confidence`): the in-process
    model checks every token, HTTP transports stream the reply with ``top_logprobs`` and close it;
    a cut completion has ``finish_reason == "confidence"``. :meth:`params` is the request as cached; transports send
    :func:`~reasoners.llm.reasoning.provider_fields` of it.
    """

    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    reasoning_effort: str | None = None
    thinking_tokens: int | None = None
    stop_below: tuple[int, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_tokens, int) or isinstance(self.max_tokens, bool) or self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1; got {self.max_tokens!r}")
        if not isinstance(self.temperature, (int, float)) or self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0; got {self.temperature!r}")
        if self.top_p is not None and not (isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1):
            raise ConfigError(f"top_p must be in (0, 1]; got {self.top_p!r}")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        elif self.stop is not None:
            if not all(isinstance(s, str) for s in self.stop):
                raise ConfigError(f"stop must be a string or a list of strings; got {self.stop!r}")
            object.__setattr__(self, "stop", tuple(self.stop))
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)):
            raise ConfigError(f"seed must be an integer; got {self.seed!r}")
        if self.top_logprobs is not None and (not isinstance(self.top_logprobs, int) or not 1 <= self.top_logprobs <= 20):
            raise ConfigError(f"top_logprobs must be a whole number from 1 to 20; got {self.top_logprobs!r}")
        if self.stop_below is not None:
            rule = tuple(self.stop_below)
            if (len(rule) != 2 or not isinstance(rule[0], int) or rule[0] < 1
                    or not isinstance(rule[1], (int, float)) or rule[1] != rule[1]):
                raise ConfigError(f"stop_below must be (window >= 1, threshold); got {self.stop_below!r}")
            object.__setattr__(self, "stop_below", (int(rule[0]), float(rule[1])))
        if self.thinking_tokens is not None and (not isinstance(self.thinking_tokens, int)
                                                 or isinstance(self.thinking_tokens, bool) or self.thinking_tokens < 0):
            raise ConfigError(f"thinking_tokens must be an integer >= 0; got {self.thinking_tokens!r}")

    def merged(self, **overrides: Any) -> SamplingOptions:
        """These options with every override that is not ``UNSET`` applied."""
        given = {k: v for k, v in overrides.items() if v is not UNSET}
        return dataclasses.replace(self, **given) if given else self

    def given(self, args: dict[str, Any]) -> SamplingOptions:
        """These options with a call's :class:`SamplingArgs` applied; unknown names are refused."""
        unknown = sorted(set(args) - _ARGS)
        if unknown:
            raise ConfigError(f"unknown sampling option {unknown[0]!r}; known: {', '.join(sorted(_ARGS))}")
        return self.merged(**args)

    def params(self) -> dict[str, Any]:
        """The options as request fields: those set, ``logprobs`` only when asked for."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name == "logprobs" and not value):
                continue
            out[f.name] = list(value) if f.name in ("stop", "stop_below") else value
        return out
