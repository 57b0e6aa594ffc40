"""A transport that never reaches a model: replays a run from its cache alone.

Wrapped around the transport a run used (which still counts tokens and reports
capabilities, so budgets clamp and requests are built exactly as they were), it
raises :class:`NotCached` on any call the cache does not answer. ``reasoners
analyze`` uses it to recover the texts of committed runs without a model call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..core.errors import ProviderError
from .options import SamplingOptions
from .transport import Messages, Reply, Transport
from .types import Capabilities, Score

__all__ = ["CacheOnly", "NotCached"]


class NotCached(ProviderError):
    """A call that a cache-only replay would have had to send (not retried)."""


class CacheOnly(Transport):
    """``inner``'s knowledge of the model (capabilities, token counts, prices) and no way to call it.

    ``misses`` counts the calls refused, so a replay can tell whether it recovered everything."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.model = inner.model
        self.misses = 0

    def capabilities(self) -> Capabilities:
        return self.inner.capabilities()

    def count_tokens(self, messages: Messages) -> int:
        return self.inner.count_tokens(messages)

    def count_text(self, text: str) -> int:
        return self.inner.count_text(text)

    def prices(self) -> tuple[float, float]:
        return self.inner.prices()

    def _miss(self) -> NotCached:
        self.misses += 1
        return NotCached(f"{self.model}: not in the cache (a cache-only replay makes no model calls)",
                         model=self.model)

    async def complete(self, messages: Messages, options: SamplingOptions, *, n: int, timeout: float) -> Reply:
        raise self._miss()

    async def stream(self, messages: Messages, options: SamplingOptions, *, timeout: float) -> AsyncIterator[str | Reply]:
        raise self._miss()
        yield  # pragma: no cover  (makes this an async generator)

    async def score(self, prompt: str, continuation: str, *, timeout: float) -> Score:
        raise self._miss()

    async def aclose(self) -> None:
        await self.inner.aclose()
