"""The transport seam: how one request reaches a model, and what is known of the model.

Two small interfaces, chosen together once, when the :class:`~reasoners.llm.LLM` is made,
by :func:`~reasoners.llm.routing.choose_transport`:

- a :class:`Transport` only sends: ``complete``, ``stream``, ``score``. It knows nothing of
  budgets, caches, retries or traces (the client's job), nor of token counts or prices;
- a :class:`ModelInfo` only knows: capabilities, token counts, prices. Reservations,
  prompt scoring and the usage of a reply that came without any read it.

The transports:

- :class:`~reasoners.llm.inprocess.InProcessTransport`: the embedded llama.cpp
  model, the fakes and LangChain chat models, called directly;
- :class:`~reasoners.llm.openai_transport.OpenAITransport`: the lean path for
  ``openai/<name>`` on an ``api_base`` server (llama.cpp, vLLM), on the
  ``openai`` SDK;
- :class:`~reasoners.llm.litellm_transport.LiteLLMTransport`: every other
  provider litellm knows.

Transports raise only the toolkit's errors (:mod:`reasoners.core.errors`), with
secrets redacted, and take a plain ``timeout`` in seconds.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import MalformedResponseError
from ..core.usage import Usage
from .options import SamplingOptions
from .reasoning import ReasoningDelta, ThinkingFormat, split_reasoning
from .types import Capabilities, Completion, Score, TokenLogprob

__all__ = ["Transport", "ModelInfo", "Choice", "Reply", "completions", "request_key"]

Messages = list[dict[str, Any]]


@dataclass
class Choice:
    """One sampled answer of a reply: its text as sent (inline thinking still in it) and the
    thinking a provider sent in a field of its own (``reasoning_content``, ``reasoning``,
    thinking blocks)."""

    text: str
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] | None = None
    reasoning: str | None = None


@dataclass
class Reply:
    """What a backend answered to one request: its choices and the request's token usage."""

    choices: list[Choice]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class ModelInfo(ABC):
    """What is known of one model apart from sending to it. Subclass it (with :class:`Transport`)
    for a backend the toolkit does not know, and pass it as ``LLM(..., info=...)``."""

    @abstractmethod
    def capabilities(self) -> Capabilities:
        """What the backend can do (None where unknown); may check configuration and keys first."""

    @abstractmethod
    def count_tokens(self, messages: Messages) -> int:
        """Prompt tokens of ``messages``, as reserved against a budget."""

    @abstractmethod
    def count_text(self, text: str) -> int:
        """Tokens of raw ``text`` (prompt scoring, a reply's usage when the server sent none)."""

    def prices(self) -> tuple[float, float]:
        """Cost per prompt token and per completion token (0 where unknown)."""
        return 0.0, 0.0


class Transport(ABC):
    """Sends requests to one model. Subclass it to reach a backend the toolkit does not know
    (``LLM(..., transport=...)``); what is known of the model is a :class:`ModelInfo`."""

    model: str

    @abstractmethod
    async def complete(self, messages: Messages, options: SamplingOptions, *, n: int, timeout: float) -> Reply:
        """``n`` samples of ``messages`` in one request (``n > 1`` only where ``capabilities().n``)."""

    async def stream(
        self, messages: Messages, options: SamplingOptions, *, timeout: float
    ) -> AsyncIterator[str | ReasoningDelta | Reply]:
        """One sample as deltas as they arrive, then the whole :class:`Reply` (usage included):
        ``str`` for the reply's text as sent (inline thinking tags included: the client separates
        them), :class:`ReasoningDelta` for thinking the provider streams in a field of its own.

        The default sends the request whole and yields it once."""
        reply = await self.complete(messages, options, n=1, timeout=timeout)
        if reply.choices and reply.choices[0].reasoning:
            yield ReasoningDelta(reply.choices[0].reasoning)
        if reply.choices and reply.choices[0].text:
            yield reply.choices[0].text
        yield reply

    @abstractmethod
    async def score(self, prompt: str, continuation: str, *, timeout: float) -> Score:
        """Per-token log P(continuation | prompt); empty when the backend returned no prompt logprobs."""

    async def aclose(self) -> None:
        """Release connections; the transport may be used again afterwards."""


def request_key(api_key: str | None, api_base: str | None, model: str) -> str | None:
    """The key to send: the one given, else none (the provider's variable is read), else, for an
    OpenAI-compatible server of one's own, a placeholder: such servers often check no key but the
    SDK insists on one, and a server that does check answers 401, an AuthError."""
    if api_key:
        return api_key
    if api_base and model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY", "").strip():
        return "no-key"
    return None


def completions(reply: Reply, model: str, prices: tuple[float, float],
                fmt: ThinkingFormat | None = None) -> list[Completion]:
    """The reply's choices as completions, each with its thinking apart from its final text
    (:func:`~reasoners.llm.reasoning.split_reasoning`, inline tags in ``fmt``). Usage comes per
    request: it is split over the samples so that each cached sample carries its share and the
    shares add up to the request's usage."""
    if not reply.choices:
        raise MalformedResponseError(f"{model}: response has no choices", model=model)
    prompt_price, completion_price = prices
    shares = _split(reply.completion_tokens, [max(1, len(c.text) + len(c.reasoning or "")) for c in reply.choices])
    reasoning_shares = _split(reply.reasoning_tokens, [max(1, len(c.reasoning or c.text)) for c in reply.choices])
    out = []
    for k, choice in enumerate(reply.choices):
        first = k == 0
        usage = Usage(
            prompt_tokens=reply.prompt_tokens if first else 0,
            completion_tokens=shares[k],
            calls=1 if first else 0,
            cost=(reply.prompt_tokens * prompt_price if first else 0.0) + shares[k] * completion_price,
            reasoning_tokens=reasoning_shares[k],
        )
        split = split_reasoning(choice.text, choice.logprobs, fmt, reasoning=choice.reasoning)
        out.append(Completion(text=split.text, finish_reason=choice.finish_reason, logprobs=split.logprobs,
                              usage=usage, model=model, reasoning=split.reasoning,
                              reasoning_logprobs=split.reasoning_logprobs))
    return out


def _split(total: int, weights: list[int]) -> list[int]:
    """Integers proportional to ``weights`` that add up to ``total`` exactly."""
    s = sum(weights)
    shares = [total * w // s for w in weights]
    shares[0] += total - sum(shares)
    return shares
