"""What a strategy tree does, read from its parts: whether any part runs model-written code."""

from __future__ import annotations

from typing import Any

__all__ = ["runs_code", "parts"]


def parts(obj: Any, seen: set[int] | None = None) -> list[Any]:
    """``obj`` and every strategy, stage and scorer it holds, at any depth."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    out = [obj]
    for value in getattr(obj, "__dict__", {}).values():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if getattr(type(item), "__module__", "").startswith("reasoners.strategies"):
                out += parts(item, seen)
    return out


def runs_code(obj: Any) -> bool:
    """True when a part of ``obj`` executes model-written code (in the sandbox): CodeChain, the
    public-tests scorer. A server refuses these unless its operator allows them."""
    return any(getattr(type(p), "runs_code", False) for p in parts(obj))
