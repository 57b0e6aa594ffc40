"""A chat-completion request, checked: every field we take, and a one-line 400 for everything else.

Nothing is dropped in silence: a field the server cannot honour (``tools``,
``n > 1``, ``logit_bias``, ``response_format``, ...) is refused by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import SpecError
from ..spec import grammar

__all__ = ["BadRequest", "ChatRequest", "parse_chat", "split_model"]

# Sampling fields passed through to the strategy's calls (unless the strategy sets them itself).
SAMPLING = ("temperature", "max_tokens", "top_p", "stop", "seed", "reasoning_effort")
ACCEPTED = {"model", "messages", "stream", "stream_options", "max_completion_tokens", "user", "metadata", "n",
            "reasoners", *SAMPLING}
BUDGET_FIELDS = {"tokens": int, "calls": int, "cost": float, "seconds": float}


class BadRequest(Exception):
    """A request the server refuses with ``status`` (400 unless said): ``message`` is one line."""

    def __init__(self, message: str, *, param: str | None = None, status: int = 400,
                 code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message, self.param, self.status, self.code = message, param, status, code


@dataclass
class ChatRequest:
    """What a request asks for, once checked."""

    model: str
    question: str
    conversation: list[dict[str, str]]
    sampling: dict[str, Any] = field(default_factory=dict)
    seed: int = 0  # the run's seed: a one-call strategy sends it as is, samples derive theirs from it
    stream: bool = False
    include_usage: bool = False
    strategy: str | None = None
    budget: dict[str, float] = field(default_factory=dict)
    kind: str = "text"


def _text(content: Any, where: str) -> str:
    """A message's content as text: a string, or OpenAI's list of text parts (valid Unicode only)."""
    text = _joined(content, where)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise BadRequest(f"{where}.content is not valid Unicode text (a lone surrogate at character {e.start})",
                         param=f"{where}.content") from None
    return text


def _joined(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise BadRequest(f"{where}.content[{i}] is a {kind!r} part; only text parts are supported",
                                 param=f"{where}.content")
            parts.append(part["text"])
        return "".join(parts)
    raise BadRequest(f"{where}.content must be a string or a list of text parts", param=f"{where}.content")


def _messages(raw: Any) -> tuple[str, list[dict[str, str]]]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("messages must be a non-empty list of {role, content} objects", param="messages")
    out = []
    for i, m in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise BadRequest(f"{where} must be an object with role and content", param=where)
        role = m.get("role")
        if role == "developer":
            role = "system"
        if role not in ("system", "user", "assistant"):
            raise BadRequest(f"{where}.role must be system, user or assistant; got {role!r}", param=f"{where}.role")
        extra = sorted(set(m) - {"role", "content", "name"})
        if extra:
            raise BadRequest(f"{where}.{extra[0]} is not supported (no tools or function calls)",
                             param=f"{where}.{extra[0]}")
        out.append({"role": role, "content": _text(m.get("content"), where)})
    if out[-1]["role"] != "user":
        raise BadRequest("the last message must be the user's question", param="messages")
    question = out[-1]["content"]
    if not question.strip():
        raise BadRequest("the last user message is empty", param="messages")
    return question, out[:-1]


def _number(value: Any, name: str, kind: type, *, low: float | None = None, high: float | None = None) -> Any:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        ok = ok and float(value).is_integer()
    if not ok:
        raise BadRequest(f"{name} must be {'a whole number' if kind is int else 'a number'}; got {value!r}",
                         param=name)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise BadRequest(f"{name} must be {bounds}; got {value!r}", param=name)
    return int(value) if kind is int else float(value)


def _sampling(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if body.get("max_completion_tokens") is not None:
        if body.get("max_tokens") is not None:
            raise BadRequest("give max_tokens or max_completion_tokens, not both", param="max_tokens")
        body = {**body, "max_tokens": body["max_completion_tokens"]}
    if body.get("temperature") is not None:
        out["temperature"] = _number(body["temperature"], "temperature", float, low=0, high=2)
    if body.get("max_tokens") is not None:
        out["max_tokens"] = _number(body["max_tokens"], "max_tokens", int, low=1)
    if body.get("top_p") is not None:
        out["top_p"] = _number(body["top_p"], "top_p", float, low=0, high=1)
        if out["top_p"] == 0:
            raise BadRequest("top_p must be above 0", param="top_p")
    stop = body.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop) or len(stop) > 4:
            raise BadRequest("stop must be a string or a list of up to 4 non-empty strings", param="stop")
        out["stop"] = stop
    effort = body.get("reasoning_effort")
    if effort is not None:
        if effort not in ("minimal", "low", "medium", "high"):
            raise BadRequest(f"reasoning_effort must be minimal, low, medium or high; got {effort!r}",
                             param="reasoning_effort")
        out["reasoning_effort"] = effort
    return out


KINDS = ("text", "number", "choice", "code")


def _options(raw: Any) -> tuple[str | None, dict[str, float], str]:
    """The ``reasoners`` extension object: a strategy spec, a budget and the answer kind."""
    if raw is None:
        return None, {}, "text"
    if not isinstance(raw, dict):
        raise BadRequest("reasoners must be an object such as {\"strategy\": \"sc(n=8)\"}", param="reasoners")
    unknown = sorted(set(raw) - {"strategy", "budget", "kind", "thinking_tokens"})
    if unknown:
        raise BadRequest(f"reasoners.{unknown[0]} is not a field (known: strategy, budget, kind, thinking_tokens)",
                         param=f"reasoners.{unknown[0]}")
    kind = raw.get("kind", "text")
    if kind not in KINDS:
        raise BadRequest(f"reasoners.kind must be one of {', '.join(KINDS)}; got {kind!r}", param="reasoners.kind")
    spec = raw.get("strategy")
    if spec is not None and (not isinstance(spec, str) or not spec.strip()):
        raise BadRequest("reasoners.strategy must be a spec string such as \"sc(n=8) | trlm\"",
                         param="reasoners.strategy")
    budget_raw = raw.get("budget")
    budget: dict[str, float] = {}
    if budget_raw is not None:
        if not isinstance(budget_raw, dict):
            raise BadRequest("reasoners.core.budget must be an object with tokens, calls, cost or seconds",
                             param="reasoners.core.budget")
        for name, value in budget_raw.items():
            if name not in BUDGET_FIELDS:
                raise BadRequest(f"reasoners.core.budget.{name} is not a limit (known: tokens, calls, cost, seconds)",
                                 param=f"reasoners.core.budget.{name}")
            if value is None:
                continue
            number = BUDGET_FIELDS[name]
            budget[name] = _number(value, f"reasoners.core.budget.{name}", number, low=1 if number is int else 0)
            if number is float and budget[name] <= 0:
                raise BadRequest(f"reasoners.core.budget.{name} must be above 0; got {value!r}",
                                 param=f"reasoners.core.budget.{name}")
    return spec, budget, kind


def parse_chat(body: Any) -> ChatRequest:
    """The request in ``body`` (parsed JSON), or :class:`BadRequest` naming what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    body = {k: v for k, v in body.items() if v is not None}  # clients send null for "not set"
    if body.get("logprobs") is False:
        body.pop("logprobs")
    unknown = sorted(set(body) - ACCEPTED)
    if unknown:
        raise BadRequest(f"{unknown[0]} is not supported by this server", param=unknown[0],
                         code="unsupported_parameter")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("model must be a non-empty string", param="model")
    n = body.get("n", 1)
    if n != 1 or isinstance(n, bool):
        raise BadRequest(f"n must be 1 (a strategy draws its own samples); got {n!r}", param="n",
                         code="unsupported_parameter")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("stream must be true or false", param="stream")
    options = body.get("stream_options")
    include_usage = False
    if options is not None:
        if not isinstance(options, dict) or set(options) - {"include_usage", "include_obfuscation"}:
            raise BadRequest("stream_options takes only include_usage", param="stream_options")
        include_usage = bool(options.get("include_usage"))
    if not isinstance(body.get("metadata", {}), dict) or not isinstance(body.get("user", ""), str):
        raise BadRequest("metadata must be an object and user a string", param="metadata")
    question, conversation = _messages(body.get("messages"))
    spec, budget, kind = _options(body.get("reasoners"))
    sampling = _sampling(body)
    thinking = (body.get("reasoners") or {}).get("thinking_tokens")
    if thinking is not None:  # a per-call thinking limit for reasoning models, mapped per provider
        sampling["thinking_tokens"] = _number(thinking, "reasoners.thinking_tokens", int, low=0)
    seed = _number(body["seed"], "seed", int) if body.get("seed") is not None else 0
    return ChatRequest(model=model.strip(), question=question, conversation=conversation, sampling=sampling,
                       seed=seed, stream=stream, include_usage=include_usage, strategy=spec, budget=budget, kind=kind)


def split_model(model: str) -> tuple[str | None, str]:
    """``"<spec>@<model>"`` as (spec, model), split as the spec grammar splits it (the first ``@``
    outside parentheses and quotes); a name with no such ``@`` is (None, name)."""
    try:
        return grammar.split_model(model)
    except SpecError as e:
        raise BadRequest(f"model {e}", param="model") from None
