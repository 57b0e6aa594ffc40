"""The one sync bridge: every sync entry point runs its async twin through here."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from .errors import SyncInAsyncError

T = TypeVar("T")

_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[AsyncGenerator[None, None]]] = (
    weakref.WeakKeyDictionary()
)


def close_with_loop(aclose: Callable[[], Awaitable[Any]]) -> None:
    """Await ``aclose()`` when the running event loop ends: for resources bound to it (pooled HTTP
    connections), which would otherwise outlive it and complain when collected. It rides on
    asyncio's own clean-up: a loop that shuts down its async generators before closing
    (``asyncio.run`` does, for :func:`run_sync`'s loops and a caller's alike) closes an async
    generator parked here, whose ``finally`` awaits ``aclose()``."""
    loop = asyncio.get_running_loop()
    closer = _closing(aclose)
    _closers.setdefault(loop, []).append(closer)  # the loop holds its async generators weakly
    loop.create_task(_park(closer))


async def _closing(aclose: Callable[[], Awaitable[Any]]) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        try:
            await aclose()
        except Exception:  # closing is best effort
            pass


async def _park(closer: AsyncGenerator[None, None]) -> None:
    await closer.__anext__()  # started: the loop now knows it, and closes it at shutdown


def run_sync(coro: Coroutine[Any, Any, T], *, async_name: str) -> T:
    """Run ``coro`` to completion from sync code.

    Inside a running event loop (Jupyter, an async app) blocking would deadlock
    or nest loops, so this refuses and names the async twin to ``await``.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise SyncInAsyncError(
        f"called the sync API inside a running event loop; use `await ...{async_name}(...)` instead"
    )
