"""Usage: what a call, a run or a budget consumed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["Usage"]


@dataclass
class Usage:
    """Tokens, calls and cost, addable.

    ``cost`` is in USD and counts only what litellm can price (0 for local models).
    ``cache_hits`` counts calls replayed from the cache; their tokens still count,
    so a replayed run spends its budget exactly as the original did.
    ``reasoning_tokens`` are the part of ``completion_tokens`` a reasoning model
    spent thinking, where the provider reports them.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cost: float = 0.0
    cache_hits: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["total_tokens"] = self.total_tokens
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Usage:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})
