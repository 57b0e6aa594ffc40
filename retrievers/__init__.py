"""The retriever interface strategies use to fetch passages.

A retriever has ``retrieve(query, k)`` and its async twin ``aretrieve``, both
returning :class:`Document` objects, best first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["Document", "Retriever"]


@dataclass
class Document:
    """A retrieved passage. ``score`` is the retriever's relevance (higher is better)."""

    id: str
    text: str
    title: str = ""
    score: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Retriever(Protocol):
    def retrieve(self, query: str, k: int = 5) -> list[Document]: ...

    async def aretrieve(self, query: str, k: int = 5) -> list[Document]: ...
