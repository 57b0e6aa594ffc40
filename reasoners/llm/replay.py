"""A transport that never reaches a model: replays a run from its cache alone.

Given as ``LLM(..., transport=CacheOnly(model))``, the client still knows the model as the run
did (its :class:`~reasoners.llm.transport.ModelInfo`: token counts, capabilities), so budgets
clamp and requests are built exactly as they were; any call the cache does not answer raises
:class:`NotCached`. ``reasoners analyze`` uses it to recover the texts of committed runs
without a model call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from ..core.errors import ProviderError
from .options import SamplingOptions
from .transport import Messages, Reply, Transport
from .types import Score

__all__ = ["CacheOnly", "NotCached"]


class NotCached(ProviderError):
    """A call that a cache-only replay would have had to send (not retried)."""


class CacheOnly(Transport):
    """No way to call ``model``. ``misses`` counts the calls refused, so a replay can tell
    whether it recovered everything."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.misses = 0

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
