"""The retriever interface: ``retrieve(query, k)`` and ``aretrieve`` returning Documents, best first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from reasoners.core.errors import (
    RetrieverError,  # defined with the rest of the tree; re-exported here
)

__all__ = ["Document", "Retriever", "RetrieverError"]


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
