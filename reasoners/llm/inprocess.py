"""Models that run inside this process (the embedded llama.cpp model, the fakes, LangChain chat
models), the transport that calls them directly and what they say of themselves."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ..core.errors import ReasonersError
from .convert import convert_error
from .options import SamplingOptions
from .transport import Choice, Messages, ModelInfo, Reply, Transport
from .types import Capabilities, Score, TokenLogprob

__all__ = ["InProcessModel", "RawCompletion", "InProcessTransport", "InProcessInfo"]


@dataclass
class RawCompletion:
    """What an in-process model returns for one sample."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[TokenLogprob] | None = None


class InProcessModel(ABC):
    """A model that runs inside this process. One sample per call: the client emulates ``n``."""

    capabilities = Capabilities(n=False, logprobs=True, prompt_logprobs=True, seed=True)

    @abstractmethod
    def count_tokens(self, messages: list[dict[str, Any]]) -> int:
        """Exact prompt token count for ``messages`` (used to reserve budget)."""

    @abstractmethod
    async def complete(self, messages: list[dict[str, Any]], options: SamplingOptions) -> RawCompletion:
        """One sample of ``messages``."""

    async def stream(self, messages: list[dict[str, Any]], options: SamplingOptions) -> AsyncIterator[
            str | RawCompletion]:
        """Text deltas as they are generated, then the whole :class:`RawCompletion`. The default
        generates the sample whole."""
        raw = await self.complete(messages, options)
        if raw.text:
            yield raw.text
        yield raw

    @abstractmethod
    async def score(self, prompt: str, continuation: str) -> Score: ...


def _reply(raw: RawCompletion) -> Reply:
    return Reply([Choice(raw.text, raw.finish_reason, raw.logprobs)], raw.prompt_tokens, raw.completion_tokens)


class InProcessTransport(Transport):
    """Calls an :class:`InProcessModel` directly; ``loader`` builds it on first use (``local/...``)."""

    def __init__(
        self, model: str, *, backend: InProcessModel | None = None,
        loader: Callable[[], InProcessModel] | None = None,
    ) -> None:
        if backend is None and loader is None:
            raise ValueError("InProcessTransport needs a backend or a loader")
        self.model = model
        self._backend = backend
        self._loader = loader

    @property
    def backend(self) -> InProcessModel:
        if self._backend is None:
            assert self._loader is not None
            self._backend = self._loader()
        return self._backend

    async def complete(self, messages: Messages, options: SamplingOptions, *, n: int, timeout: float) -> Reply:
        try:
            raws = await asyncio.gather(*(self.backend.complete(messages, options) for _ in range(n)))
        except ReasonersError:
            raise
        except Exception as e:
            raise convert_error(e, self.model) from e
        replies = [_reply(r) for r in raws]
        if n == 1:
            return replies[0]
        return Reply([r.choices[0] for r in replies], replies[0].prompt_tokens,
                     sum(r.completion_tokens for r in replies))

    async def stream(
        self, messages: Messages, options: SamplingOptions, *, timeout: float
    ) -> AsyncIterator[str | Reply]:
        try:
            async for item in self.backend.stream(messages, options):
                yield item if isinstance(item, str) else _reply(item)
        except ReasonersError:
            raise
        except Exception as e:
            raise convert_error(e, self.model) from e

    async def score(self, prompt: str, continuation: str, *, timeout: float) -> Score:
        try:
            return await self.backend.score(prompt, continuation)
        except ReasonersError:
            raise
        except Exception as e:
            raise convert_error(e, self.model) from e


class InProcessInfo(ModelInfo):
    """What an in-process model says of itself (exact token counts: its own tokenizer), read
    through the transport that holds it, so the model loads once, on first use."""

    def __init__(self, transport: InProcessTransport) -> None:
        self.transport = transport

    def capabilities(self) -> Capabilities:
        return self.transport.backend.capabilities

    def count_tokens(self, messages: Messages) -> int:
        return self.transport.backend.count_tokens(messages)

    def count_text(self, text: str) -> int:
        return self.transport.backend.count_tokens([{"role": "user", "content": text}])
