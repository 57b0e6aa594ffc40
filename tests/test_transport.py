"""Retries, error conversion, native n and secrets, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import time

import pytest

from reasoners import (
    LLM,
    AuthError,
    Budget,
    Cache,
    ChainOfThought,
    MalformedResponseError,
    ProviderError,
    RateLimitError,
    RequestTimeout,
    RetryPolicy,
    ServerError,
)
from reasoners.llm.convert import parse_retry_after
from reasoners.testing.stub_server import Reply, StubServer

FAST = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.5, jitter=0.0)
SECRET = "sk-test-SECRETKEY-0123456789abcdef"


TRANSPORT = {"name": "openai"}


@pytest.fixture(autouse=True, params=["http", "openai", "litellm"])
def transport(request):
    """Every test here runs on both HTTP transports."""
    TRANSPORT["name"] = request.param
    yield request.param


def client(srv: StubServer, **kw) -> LLM:
    kw.setdefault("retry", FAST)
    kw.setdefault("transport", TRANSPORT["name"])
    return LLM("openai/stub", api_base=srv.url, api_key=SECRET, **kw)


def test_429_honours_retry_after():
    with StubServer([Reply.error(429, retry_after=0.4), Reply.ok("done")]) as srv:
        llm = client(srv)
        llm.capabilities  # resolve outside the timed part
        t0 = time.perf_counter()
        [c] = llm.generate("hi")
        waited = time.perf_counter() - t0
    assert c.text == "done"
    assert len(srv.requests) == 2
    assert waited >= 0.4  # the server's hint, not the 0.01 s backoff


def test_429_exhausts_attempts_then_raises_rate_limit():
    with StubServer(default=Reply.error(429, retry_after=0)) as srv:
        with pytest.raises(RateLimitError) as e:
            client(srv).generate("hi")
    assert len(srv.requests) == 3
    assert e.value.retry_after == 0


def test_500_then_success():
    with StubServer([Reply.error(500), Reply.ok("fine")]) as srv:
        [c] = client(srv).generate("hi")
    assert c.text == "fine" and len(srv.requests) == 2


def test_persistent_500_is_a_server_error():
    with StubServer(default=Reply.error(503)) as srv:
        with pytest.raises(ServerError):
            client(srv).generate("hi")
    assert len(srv.requests) == 3


@pytest.mark.slow
def test_malformed_json_is_retried_then_reported():
    with StubServer([Reply.malformed(), Reply.ok("recovered")]) as srv:
        [c] = client(srv).generate("hi")
    assert c.text == "recovered" and len(srv.requests) == 2
    with StubServer(default=Reply.malformed()) as srv:
        with pytest.raises(MalformedResponseError, match="malformed"):
            client(srv).generate("hi")
    assert len(srv.requests) == 3


@pytest.mark.slow
def test_hanging_response_times_out():
    with StubServer(default=Reply.hang(3.0)) as srv:
        t0 = time.perf_counter()
        with pytest.raises(RequestTimeout):
            client(srv, timeout=0.3, retry=RetryPolicy(attempts=2, initial_wait=0.01, jitter=0)).generate("hi")
        elapsed = time.perf_counter() - t0
    assert len(srv.requests) == 2
    assert elapsed < 2.5


@pytest.mark.parametrize("status,error", [(401, AuthError), (400, ProviderError), (404, ProviderError)])
def test_client_errors_fail_at_once(status, error):
    with StubServer(default=Reply.error(status, message="nope")) as srv:
        with pytest.raises(error) as e:
            client(srv).generate("hi")
    assert len(srv.requests) == 1
    assert e.value.status == status
    assert isinstance(e.value.__cause__, Exception)  # the original is chained


def test_total_wait_is_capped():
    policy = RetryPolicy(attempts=10, initial_wait=0.01, max_wait=5, max_total_wait=0.5, jitter=0)
    with StubServer(default=Reply.error(429, retry_after=2)) as srv:
        t0 = time.perf_counter()
        with pytest.raises(RateLimitError):
            client(srv, retry=policy).generate("hi")
    assert time.perf_counter() - t0 < 1.5
    assert len(srv.requests) == 1  # a 2 s wait would pass the 0.5 s cap: give up now


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("soon") is None


def test_native_n_is_one_request_and_usage_adds_up():
    with StubServer(default=Reply.ok("a b c")) as srv:
        llm = client(srv)
        budget = Budget(tokens=1000).meter()
        out = llm.generate("hi", n=4, temperature=0.9, budget=budget)
    assert len(out) == 4 and len(srv.requests) == 1 and srv.requests[0]["n"] == 4
    assert llm.capabilities.n is True
    assert sum(c.usage.total_tokens for c in out) == budget.used.total_tokens == 10 + 12
    assert budget.used.calls == 1


def test_server_without_n_falls_back_to_single_calls():
    with StubServer(default=Reply.ok("x"), supports_n=False) as srv:
        llm = client(srv)
        out = llm.generate("hi", n=3, temperature=0.9)
    assert len(out) == 3
    assert llm.capabilities.n is False
    assert len(srv.requests) == 3  # the probe (answered with one choice) + 2 single calls
    assert sorted(r.get("seed") for r in srv.requests[1:]) == [1, 2]  # concurrent: any arrival order


@pytest.mark.slow
def test_api_key_never_in_trace_cache_or_logs(tmp_path, caplog):
    path = tmp_path / "cache.sqlite"
    with StubServer([Reply.error(500), Reply.ok("The answer is 7.")]) as srv:
        llm = client(srv, cache=Cache(path))
        with caplog.at_level(logging.DEBUG):
            result = ChainOfThought().run("What is 3 + 4?", llm=llm)
    assert result.answer == "7"
    blob = json.dumps(result.trace) + json.dumps(result.to_dict())
    assert SECRET not in blob
    assert SECRET.encode() not in path.read_bytes()
    assert SECRET not in caplog.text
    assert SECRET not in repr(llm)


def test_more_samples_after_cached_ones_are_not_the_same_seed_again(tmp_path):
    # A seeded server draws choices 0..k-1 for seed s; asking n=4 again with seed s for samples 4-7
    # would repeat samples 0-3, so the missing ones go alone with seeds s+4..s+7.
    with StubServer(default=Reply.ok("x")) as srv:
        llm = client(srv, cache=Cache(tmp_path / "c.sqlite"))
        llm.generate("hi", n=4, temperature=0.9, seed=10)
        out = llm.generate("hi", n=8, temperature=0.9, seed=10)
    assert len(out) == 8 and [c.cached for c in out] == [True] * 4 + [False] * 4
    later = srv.requests[1:]
    assert sorted(r["seed"] for r in later) == [14, 15, 16, 17]
    assert all(r.get("n", 1) == 1 for r in later)


def test_identical_concurrent_calls_share_one_request(tmp_path):
    import asyncio

    with StubServer(default=Reply.ok("x", delay=0.3)) as srv:
        llm = client(srv, cache=Cache(tmp_path / "c.sqlite"))

        async def both():
            a, b = Budget().meter(), Budget().meter()
            small, big = await asyncio.gather(
                llm.agenerate("hi", n=4, temperature=0.9, seed=1, budget=a),
                llm.agenerate("hi", n=8, temperature=0.9, seed=1, budget=b),
            )
            return small, big, a, b

        small, big, a, b = asyncio.run(both())
    assert len(small) == 4 and len(big) == 8
    # 4 samples drawn once, shared; the other 4 with their own seeds: 5 requests, not 6 (or 2 with 12 samples)
    drawn = sum(int(r.get("n", 1)) for r in srv.requests)
    assert drawn == 8
    assert sum(c.cached for c in small + big) == 4
    # each caller is charged for every sample it got, shared ones included (as for cache hits)
    assert a.used.completion_tokens == sum(c.usage.completion_tokens for c in small)
    assert b.used.cache_hits == 4 or a.used.cache_hits == 4


def test_no_sharing_without_a_cache():
    import asyncio

    with StubServer(default=Reply.ok("x", delay=0.2)) as srv:
        llm = client(srv)

        async def both():
            return await asyncio.gather(llm.agenerate("hi", n=2, seed=1), llm.agenerate("hi", n=2, seed=1))

        asyncio.run(both())
    assert sum(int(r.get("n", 1)) for r in srv.requests) == 4


def test_a_server_that_is_not_there_is_a_connection_error_in_one_line():
    import socket

    from reasoners import APIConnectionError

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    llm = LLM("openai/stub", api_base=f"http://127.0.0.1:{port}/v1", api_key=SECRET, retry=FAST,
              transport=TRANSPORT["name"])
    with pytest.raises(APIConnectionError) as info:
        llm.generate("hi")
    assert SECRET not in str(info.value) and "\n" not in str(info.value)
