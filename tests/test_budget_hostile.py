"""Budgets that hostile input cannot game (issue 36): charged >= billed under timeouts and cancels,
no wait past the time limit, samples drawn as the budget admits them, and cache entries that
cannot replay cheaper than the call they stand for."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import time
import tracemalloc

import pytest

from reasoners import LLM, Budget, Cache, ChainOfThought, RetryPolicy, SelfConsistency
from reasoners.testing import FakeLLM
from reasoners.testing.stub_server import Reply, StubServer

WORDS = len("The answer is 42.".split())


def billed(stub: StubServer) -> int:
    """Tokens the stub generated: every request it received ran to the end (10 prompt + words)."""
    return sum(10 + WORDS * int(r.get("n") or 1) for r in stub.requests)


@pytest.mark.slow
@pytest.mark.parametrize("transport", ["http", "openai", "litellm"])
def test_abandoned_attempts_are_charged_so_charged_is_at_least_billed(transport):
    # an upstream slower than the client's timeout: every attempt is abandoned, yet billed
    with StubServer(default=Reply.ok(delay=0.6)) as stub:
        llm = LLM("openai/stub", api_base=stub.url, api_key="none", transport=transport, timeout=0.3,
                  max_tokens=20, retry=RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.02))
        result = SelfConsistency(n=16).run("q", llm=llm, budget=Budget(tokens=1000))
        time.sleep(0.7)  # let the stub finish what it was sent
        served = billed(stub)
    assert result.exhausted and result.answer is None
    assert result.usage.total_tokens >= served > 0
    assert result.usage.total_tokens <= 1000  # and still never past the limit


@pytest.mark.slow
def test_every_retry_reserves():
    """Five attempts of 30 tokens (prompt + max_tokens) do not fit 100 tokens: the retries stop
    when the next one has no room, instead of running on the first reservation."""
    with StubServer(default=Reply.ok(delay=0.5)) as stub:
        llm = LLM("openai/stub", api_base=stub.url, api_key="none", timeout=0.2, max_tokens=20,
                  retry=RetryPolicy(attempts=5, initial_wait=0.01, max_wait=0.01))
        budget = Budget(tokens=100).meter().child()
        with pytest.raises(Exception) as info:
            llm.generate("hello there", budget=budget)
        sent = len(stub.requests)
    assert type(info.value).__name__ == "BudgetExhausted"
    assert budget.used.calls == sent and budget.used.total_tokens <= 100
    assert sent < 5


def test_a_cancelled_call_is_charged_at_its_reservation():
    llm = FakeLLM(["The answer is 4."], latency=5.0)
    budget = Budget(tokens=10_000).meter().child()
    async def go() -> None:
        task = asyncio.ensure_future(llm.agenerate("What is 2 + 2?", budget=budget, max_tokens=50))
        await asyncio.sleep(0.2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(go())
    assert budget.used.calls == 1 and budget.used.completion_tokens == 50 and budget.used.prompt_tokens > 0


def test_a_seconds_budget_is_not_overshot_by_a_retry_wait():
    with StubServer(default=Reply.error(429, retry_after=8)) as stub:
        llm = LLM("openai/stub", api_base=stub.url, api_key="none", timeout=5)
        llm.capabilities  # noqa: B018  (resolve the model, importing litellm, outside the timed part)
        t0 = time.monotonic()
        result = ChainOfThought().run("q", llm=llm, budget=Budget(seconds=1))
        took = time.monotonic() - t0
    assert took < 1 + 5 and took < 3  # no 8 s wait: the run ends instead
    assert result.exhausted and result.metadata.get("budget") == "seconds"


def test_samples_are_drawn_as_the_budget_admits_them():
    llm = FakeLLM(["The answer is 4."])
    tracemalloc.start()
    t0 = time.perf_counter()
    result = SelfConsistency(n=200_000).run("What is 2 + 2?", llm=llm, budget=Budget(calls=5))
    took = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.answer == "4" and result.exhausted and len(result.candidates) == 5
    assert len(llm.requests) == 5
    assert took < 2.0 and peak < 50e6


# -- the cache --------------------------------------------------------------------------------------

def _tamper(path, edit) -> None:
    with sqlite3.connect(path) as conn:
        for key, value in conn.execute("SELECT key, value FROM entries").fetchall():
            new = edit(json.loads(value))
            conn.execute("UPDATE entries SET value=? WHERE key=?",
                         (new if not isinstance(new, (dict, list)) else json.dumps(new), key))


def _usage(value):
    return lambda v: {**v, "usage": value}


TAMPERED = {
    "usage {}": _usage({}),
    "usage []": _usage([]),
    "usage null": _usage(None),
    "usage 0 tokens": _usage({"prompt_tokens": 0, "completion_tokens": 0, "calls": 0}),
    "completion 0 with text": lambda v: {**v, "usage": {**v["usage"], "completion_tokens": 0}},
    "cost NaN": lambda v: {**v, "usage": {**v["usage"], "cost": math.nan}},
    "cost inf": lambda v: {**v, "usage": {**v["usage"], "cost": math.inf}},
    "cost negative": lambda v: {**v, "usage": {**v["usage"], "cost": -1.0}},
    "tokens 1e30": lambda v: {**v, "usage": {**v["usage"], "completion_tokens": 10 ** 30}},
    "tokens float": lambda v: {**v, "usage": {**v["usage"], "completion_tokens": 3.5}},
    "tokens negative": lambda v: {**v, "usage": {**v["usage"], "prompt_tokens": -5}},
    "logprob extra key": lambda v: {**v, "logprobs": [{"token": "a", "logprob": -1.0, "x": 1}]},
    "logprob NaN": lambda v: {**v, "logprobs": [{"token": "a", "logprob": math.nan}]},
    "text not a string": lambda v: {**v, "text": 42},
    "not an object": lambda v: [1, 2, 3],
    "REAL value": lambda v: 3.25,
    "NULL value": lambda v: None,
    "not JSON": lambda v: "{not json",
    "index not a number": lambda v: {**v, "index": "zero"},
}


@pytest.mark.parametrize("name", TAMPERED)
def test_a_tampered_entry_is_a_miss_never_a_cheaper_replay(tmp_path, name, caplog):
    path = tmp_path / "c.sqlite"
    FakeLLM(["The answer is 4."], cache=Cache(path)).generate("What is 2 + 2?", logprobs=True)
    if name in ("REAL value", "NULL value"):  # the column itself holds another type
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE e2 (key TEXT PRIMARY KEY, value)")
            conn.execute("INSERT INTO e2 SELECT key, ? FROM entries", (TAMPERED[name](None),))
            conn.execute("DROP TABLE entries")
            conn.execute("ALTER TABLE e2 RENAME TO entries")
    else:
        _tamper(path, TAMPERED[name])
    fresh = FakeLLM(["The answer is 4."], cache=Cache(path))
    budget = Budget(calls=2).meter().child()
    [c] = fresh.generate("What is 2 + 2?", logprobs=True, budget=budget)
    assert not c.cached and len(fresh.requests) == 1  # a miss: fetched and charged again
    assert budget.used.calls == 1 and budget.used.total_tokens > 0


def test_a_zero_usage_cache_cannot_buy_more_samples_than_the_budget_has(tmp_path):
    path = tmp_path / "c.sqlite"
    FakeLLM(["The answer is 4."], cache=Cache(path)).generate("What is 2 + 2?", n=8, temperature=0.7)
    _tamper(path, _usage({}))
    result = SelfConsistency(n=8, base=ChainOfThought()).run(
        "What is 2 + 2?", llm=FakeLLM(["The answer is 4."], cache=Cache(path)), budget=Budget(calls=2))
    assert result.usage.calls <= 2 and len(result.candidates) <= 2
