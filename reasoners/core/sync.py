"""The one sync bridge: every sync entry point runs its async twin through here."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .errors import SyncInAsyncError

T = TypeVar("T")

_at_end: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Callable[[], Awaitable[Any]]]] = (
    weakref.WeakKeyDictionary()
)


def close_with_loop(aclose: Callable[[], Awaitable[Any]]) -> None:
    """Have :func:`run_sync` await ``aclose()`` before the event loop it made ends: for resources
    bound to the running loop (HTTP connections), which would otherwise outlive it. In a loop
    of the caller's own, nothing happens: the caller's loop goes on."""
    _at_end.setdefault(asyncio.get_running_loop(), []).append(aclose)


async def _bridged(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return await coro
    finally:
        for aclose in _at_end.pop(asyncio.get_running_loop(), []):
            try:
                await aclose()
            except Exception:  # closing is best effort; the result stands
                pass


def run_sync(coro: Coroutine[Any, Any, T], *, async_name: str) -> T:
    """Run ``coro`` to completion from sync code.

    Inside a running event loop (Jupyter, an async app) blocking would deadlock
    or nest loops, so this refuses and names the async twin to ``await``.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_bridged(coro))
    coro.close()
    raise SyncInAsyncError(
        f"called the sync API inside a running event loop; use `await ...{async_name}(...)` instead"
    )
