"""The one sync bridge: every sync entry point runs its async twin through here."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from .errors import SyncInAsyncError

T = TypeVar("T")


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
