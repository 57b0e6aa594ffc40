"""Budget: reserve-then-settle, clamping, refusal, children, and the never-exceed invariant."""

from __future__ import annotations

import asyncio
import inspect
import time
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoners import Budget, BudgetExhausted, ConfigError, Usage
from reasoners.testing import FakeLLM


def test_reserve_clamps_max_tokens_to_what_is_left():
    b = Budget(tokens=100).meter()
    r = b.reserve(prompt_tokens=30, max_tokens=500)
    assert r.max_tokens == 70
    b.settle(r, Usage(prompt_tokens=30, completion_tokens=20, calls=1))
    assert b.used.total_tokens == 50
    assert b.tokens_left() == 50


def test_refuses_when_prompt_does_not_fit():
    b = Budget(tokens=10).meter()
    with pytest.raises(BudgetExhausted) as e:
        b.reserve(prompt_tokens=10, max_tokens=5)
    assert e.value.limit == "tokens"


def test_reservations_count_until_settled():
    b = Budget(tokens=100, calls=2).meter()
    r1 = b.reserve(prompt_tokens=10, max_tokens=40)
    r2 = b.reserve(prompt_tokens=10, max_tokens=40)
    with pytest.raises(BudgetExhausted) as e:
        b.reserve(prompt_tokens=1, max_tokens=1)
    assert e.value.limit == "calls"
    b.settle(r1, Usage(prompt_tokens=10, completion_tokens=5, calls=1))
    b.settle(r2, None)  # failed request: nothing used
    assert b.used.calls == 1 and b.calls_left() == 1


def test_settle_twice_is_harmless():
    b = Budget(tokens=100).meter()
    r = b.reserve(prompt_tokens=1, max_tokens=10)
    b.settle(r, Usage(prompt_tokens=1, completion_tokens=2, calls=1))
    b.settle(r, Usage(prompt_tokens=1, completion_tokens=2, calls=1))
    assert b.used.total_tokens == 3


def test_cost_limit_clamps_by_price():
    b = Budget(cost=0.01).meter()
    r = b.reserve(prompt_tokens=1000, max_tokens=10_000, prompt_price=1e-6, completion_price=1e-5)
    # 0.001 for the prompt leaves 0.009 -> 900 completion tokens
    assert r.max_tokens == 900


def test_time_limit_refuses():
    b = Budget(seconds=0.0).meter()
    with pytest.raises(BudgetExhausted) as e:
        b.reserve(prompt_tokens=1, max_tokens=1)
    assert e.value.limit == "seconds"


def test_child_draws_from_parent_and_obeys_both():
    parent = Budget(tokens=100).meter()
    child = parent.child(tokens=60)
    r = child.reserve(prompt_tokens=10, max_tokens=100)
    assert r.max_tokens == 50
    child.settle(r, Usage(prompt_tokens=10, completion_tokens=50, calls=1))
    assert parent.used.total_tokens == 60
    other = parent.child()
    assert other.reserve(prompt_tokens=0, max_tokens=100).max_tokens == 40


def test_split_shares_what_is_left():
    b = Budget(tokens=1000, calls=10).meter()
    parts = b.split([3, 1])
    assert [p.tokens for p in parts] == [750, 250]
    assert [p.calls for p in parts] == [7, 2]
    with pytest.raises(ConfigError):
        b.split(0)


def test_bad_limits_are_named():
    with pytest.raises(ConfigError, match="tokens"):
        Budget(tokens=-1)


def test_thread_safety_never_oversubscribes():
    b = Budget(tokens=10_000).meter()
    granted: list[int] = []

    def worker():
        for _ in range(200):
            try:
                r = b.reserve(prompt_tokens=3, max_tokens=7)
            except BudgetExhausted:
                return
            granted.append(r.tokens)
            b.settle(r, Usage(prompt_tokens=3, completion_tokens=7, calls=1))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b.used.total_tokens == sum(granted) <= 10_000


# -- property: random concurrent request mixes against random budgets -------------------

_request = st.tuples(
    st.integers(min_value=1, max_value=60),  # response length in words
    st.integers(min_value=1, max_value=80),  # max_tokens asked
    st.integers(min_value=1, max_value=3),  # n
    st.integers(min_value=0, max_value=2),  # which budget: parent, child A, child B
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tokens=st.one_of(st.none(), st.integers(min_value=0, max_value=800)),
    calls=st.one_of(st.none(), st.integers(min_value=0, max_value=25)),
    child_tokens=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
    requests=st.lists(_request, min_size=1, max_size=25),
)
def test_concurrent_requests_never_exceed_any_limit(tokens, calls, child_tokens, requests):
    llm = FakeLLM(lambda req: " ".join(["w"] * int(req.prompt.split()[-1])), concurrency=4)
    parent = Budget(tokens=tokens, calls=calls).meter()
    kids = [parent.child(tokens=child_tokens), parent.child(calls=5)]
    budgets = [parent, *kids]

    async def one(length: int, max_tokens: int, n: int, which: int):
        try:
            return await llm.agenerate(
                f"say {length}", n=n, max_tokens=max_tokens, temperature=0.5, budget=budgets[which]
            )
        except BudgetExhausted:
            return []

    async def all_requests():
        return await asyncio.gather(*(one(*r) for r in requests))

    results = asyncio.run(all_requests())
    # The fake counts prompts exactly, so the bound is exact here.
    if tokens is not None:
        assert parent.used.total_tokens <= tokens
    if calls is not None:
        assert parent.used.calls <= calls
    if child_tokens is not None:
        assert kids[0].used.total_tokens <= child_tokens
    assert kids[1].used.calls <= 5
    # Usage adds up: the parent saw its own requests plus both children's.
    own = Usage()
    for (length, max_tokens, n, which), outs in zip(requests, results):
        for c in outs:
            if which == 0:
                own = own + c.usage
            assert len(c.text.split()) <= max_tokens
    assert parent.used == own + kids[0].used + kids[1].used
    assert all(b._reserved_tokens == 0 and b._reserved_calls == 0 for b in budgets)


def test_parallel_samples_wait_instead_of_starving():
    # Each sample asks for max_tokens=512, far more than the budget: the first one
    # reserves everything, and its siblings must wait for it to settle, not be refused.
    llm = FakeLLM(["The answer is 3."], max_tokens=512)
    budget = Budget(tokens=200).meter()
    out = llm.generate("q", n=3, temperature=0.5, budget=budget)
    assert len(out) == 3
    assert budget.used.total_tokens <= 200


def test_refused_when_nothing_in_flight_can_free_room():
    async def go():
        b = Budget(tokens=10).meter()
        with pytest.raises(BudgetExhausted):
            await b.areserve(prompt_tokens=20, max_tokens=5)

    asyncio.run(go())


# -- a Budget is its limits; each run counts on a meter of its own ---------------------------------


def test_a_budget_given_to_two_runs_limits_each_and_accumulates_nothing():
    from reasoners import ChainOfThought
    from reasoners.testing import FakeLLM

    limits = Budget(tokens=60)
    llm = FakeLLM(["The answer is 4."])
    first = ChainOfThought().run("What is 2 + 2?", llm=llm, budget=limits)
    second = ChainOfThought().run("What is 2 + 2?", llm=llm, budget=limits)
    assert first.usage.calls == second.usage.calls == 1 and not second.exhausted
    assert first.usage == second.usage and not hasattr(limits, "used")


def test_a_time_limit_starts_with_the_run_not_with_the_budget():
    from reasoners import ChainOfThought
    from reasoners.testing import FakeLLM

    limits = Budget(seconds=0.2)
    time.sleep(0.3)  # longer than the limit, before any run
    result = ChainOfThought().run("What is 2 + 2?", llm=FakeLLM(["The answer is 4."]), budget=limits)
    assert result.answer == "4" and not result.exhausted


def test_limits_are_a_frozen_value_and_a_meter_draws_from_a_shared_parent():
    from dataclasses import FrozenInstanceError

    from reasoners import ChainOfThought, Meter
    from reasoners.testing import FakeLLM

    limits = Budget(tokens=100, calls=3)
    with pytest.raises(FrozenInstanceError):
        limits.tokens = 5  # type: ignore[misc]
    assert limits == Budget(tokens=100, calls=3) and hash(limits) == hash(Budget(tokens=100, calls=3))
    assert "_parent" not in inspect.signature(Budget).parameters
    shared = limits.meter()
    llm = FakeLLM(["The answer is 4."])
    results = [ChainOfThought().run("What is 2 + 2?", llm=llm, budget=shared) for _ in range(4)]
    assert [r.usage.calls for r in results] == [1, 1, 1, 0] and results[-1].exhausted  # three calls in all
    assert isinstance(shared, Meter) and shared.used.calls == 3
