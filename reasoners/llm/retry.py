"""Retry policy: transient failures only, exponential backoff with jitter, Retry-After honoured."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    stop_before_delay,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential_jitter

from ..core.errors import BudgetExhausted, ConfigError, RateLimitError, TransientError

__all__ = ["RetryPolicy"]


_TRANSIENT = retry_if_exception_type(TransientError)
T = TypeVar("T")


class _PastDeadline(stop_base):
    """Stop (with :class:`BudgetExhausted`) before a wait that would end past ``deadline``."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline

    def __call__(self, state: RetryCallState) -> bool:
        if self.deadline is None or time.monotonic() + (state.upcoming_sleep or 0.0) < self.deadline:
            return False
        raise BudgetExhausted("budget time limit reached: no time left to wait and retry",
                              limit="seconds") from (state.outcome.exception() if state.outcome else None)


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries a request that failed with a :class:`TransientError`.

    ``attempts`` counts the first try. No retry sleeps past ``max_total_wait``
    seconds from the first attempt. A server's Retry-After is used as the wait
    when it sent one (capped by ``max_wait``); 4xx errors other than 429 are
    never retried.
    """

    attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 30.0
    max_total_wait: float = 120.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError("RetryPolicy.attempts must be >= 1 (1 means no retries)")
        if min(self.initial_wait, self.max_wait, self.max_total_wait, self.jitter) < 0:
            raise ConfigError("RetryPolicy waits must be >= 0")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_wait)
        backoff = wait_exponential_jitter(multiplier=self.initial_wait, max=self.max_wait, jitter=self.jitter)
        return float(backoff(state))

    def retrying(self, deadline: float | None = None, *, waited: float = 0.0) -> AsyncRetrying:
        """The retry loop. With a ``deadline`` (monotonic seconds: a budget's time limit), a wait that
        would end past it is not taken: the loop raises :class:`BudgetExhausted` instead, so no
        retry outlasts the budget (the run ends ``exhausted``). ``waited``: seconds since the first
        attempt already gone before the loop starts (see :meth:`call`)."""
        return AsyncRetrying(
            retry=_TRANSIENT,
            stop=stop_any(stop_after_attempt(self.attempts), stop_before_delay(self.max_total_wait - waited),
                          _PastDeadline(deadline)),
            wait=self._wait,
            sleep=asyncio.sleep,
            reraise=True,
        )

    async def call(self, attempt: Callable[[], Awaitable[T]], deadline: float | None = None) -> T:
        """``await attempt()`` until it succeeds or the policy stops (see :meth:`retrying`).

        The first try runs bare and the retry loop starts only once it has failed with a
        :class:`TransientError` (the loop's first turn re-raises that failure, so attempts,
        waits and the total wait count as if it had run inside): a call that succeeds, nearly
        every call, costs nothing for retrying (tenacity's loop is ~25 us a call)."""
        started = time.monotonic()
        try:
            return await attempt()
        except TransientError as e:
            if self.attempts == 1:
                raise
            failed: TransientError | None = e

        async def again() -> T:
            nonlocal failed
            if failed is not None:
                e, failed = failed, None
                raise e
            return await attempt()

        return await self.retrying(deadline, waited=time.monotonic() - started)(again)
