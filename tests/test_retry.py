"""RetryPolicy.call: the first try runs bare; retries count as if it had run inside the loop."""

from __future__ import annotations

import asyncio

import pytest

from reasoners import RetryPolicy
from reasoners.core.errors import AuthError, RateLimitError


def _tries(outcomes: list[object]):
    """An attempt function that plays ``outcomes`` (an exception is raised) and counts its calls."""
    calls: list[float] = []

    async def attempt() -> object:
        calls.append(asyncio.get_running_loop().time())
        out = outcomes[len(calls) - 1]
        if isinstance(out, BaseException):
            raise out
        if callable(out):
            return await out()
        return out

    return attempt, calls


def test_a_call_that_succeeds_never_enters_the_retry_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    entered: list[bool] = []
    real = RetryPolicy.retrying
    monkeypatch.setattr(RetryPolicy, "retrying", lambda self, *a, **k: entered.append(True) or real(self, *a, **k))
    attempt, calls = _tries(["ok"])
    assert asyncio.run(RetryPolicy().call(attempt)) == "ok"
    assert len(calls) == 1 and not entered


def test_a_transient_failure_is_retried_with_its_retry_after() -> None:
    attempt, calls = _tries([RateLimitError("slow", retry_after=0.2), "ok"])
    assert asyncio.run(RetryPolicy(attempts=3, initial_wait=0.0, jitter=0.0).call(attempt)) == "ok"
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.19  # the first failure's Retry-After was waited


def test_attempts_count_the_first_try() -> None:
    attempt, calls = _tries([RateLimitError("slow", retry_after=0)] * 5)
    with pytest.raises(RateLimitError):
        asyncio.run(RetryPolicy(attempts=3, initial_wait=0.0, jitter=0.0).call(attempt))
    assert len(calls) == 3


def test_the_total_wait_counts_from_the_first_try() -> None:
    async def slow_failure() -> object:
        await asyncio.sleep(0.25)
        raise RateLimitError("slow", retry_after=0.1)

    # the first try takes 0.25 s; a 0.1 s wait after it would end past 0.3 s from the start
    attempt, calls = _tries([slow_failure, "ok"])
    with pytest.raises(RateLimitError):
        asyncio.run(RetryPolicy(attempts=5, max_total_wait=0.3, jitter=0.0).call(attempt))
    assert len(calls) == 1


def test_a_permanent_failure_is_not_retried() -> None:
    attempt, calls = _tries([AuthError("bad key"), "ok"])
    with pytest.raises(AuthError):
        asyncio.run(RetryPolicy(attempts=3).call(attempt))
    assert len(calls) == 1
