"""The transport seam: one choice per model, one options object, the same behaviour on every transport."""

from __future__ import annotations

import asyncio

import pytest

from reasoners import LLM, AutoCoT, Budget, Cache, ChainOfThought, ConfigError, SelfConsistency
from reasoners.llm import Completion, SamplingOptions
from reasoners.llm.http_transport import HTTPTransport
from reasoners.llm.inprocess import InProcessTransport
from reasoners.llm.litellm_transport import LiteLLMTransport
from reasoners.llm.openai_transport import OpenAITransport
from reasoners.testing import FakeLLM
from reasoners.testing.stub_server import Reply, StubServer


def test_each_model_gets_its_transport_once():
    assert isinstance(FakeLLM().transport, InProcessTransport)
    assert isinstance(LLM("local/smollm2").transport, InProcessTransport)  # not loaded until first use
    assert type(LLM("openai/x", api_base="http://127.0.0.1:9/v1").transport) is HTTPTransport  # the bare path
    assert type(LLM("openai/x", api_base="http://127.0.0.1:9/v1", transport="openai").transport) is OpenAITransport
    lit = LLM("openai/x", api_base="http://127.0.0.1:9/v1", transport="litellm").transport
    assert type(lit) is LiteLLMTransport
    # litellm-only arguments keep the litellm path; so does every provider that is not a server of one's own
    assert type(LLM("openai/x", api_base="http://127.0.0.1:9/v1", extra_headers={"a": "b"}).transport) is LiteLLMTransport
    assert type(LLM("anthropic/claude-3-haiku-20240307").transport) is LiteLLMTransport


@pytest.mark.parametrize("kwargs, message", [
    ({"transport": "grpc"}, "transport must be one of"),
    ({"transport": "openai"}, "needs an 'openai/<name>' model, api_base"),
    ({"transport": "http"}, "http transport needs an 'openai/<name>' model, api_base"),
])
def test_bad_transport_choice_is_one_clear_line(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        LLM("anthropic/claude-3-haiku-20240307", **kwargs)


def test_in_process_models_take_no_http_transport():
    with pytest.raises(ConfigError, match="runs in this process"):
        LLM("local/smollm2", transport="litellm")


def test_sampling_options_merge_once_and_validate():
    base = SamplingOptions(max_tokens=64, temperature=0.0)
    merged = base.merged(temperature=0.7, stop="\n", seed=None)
    assert merged.params() == {"max_tokens": 64, "temperature": 0.7, "stop": ["\n"]}
    assert base.params() == {"max_tokens": 64, "temperature": 0.0}  # frozen: the default is untouched
    assert base.merged(logprobs=True, top_logprobs=1).params()["logprobs"] is True
    for bad, message in [({"max_tokens": 0}, "max_tokens must be >= 1"), ({"temperature": -1}, "temperature"),
                         ({"top_p": 2}, "top_p must be in"), ({"stop": [1]}, "stop must be"),
                         ({"seed": "x"}, "seed must be an integer")]:
        with pytest.raises(ConfigError, match=message):
            base.merged(**bad)


def test_fake_sees_the_merged_options():
    llm = FakeLLM(["a b c"], max_tokens=7, temperature=0.3)
    llm.generate("q", stop=["x"], seed=5)
    [req] = llm.requests
    assert (req.max_tokens, req.temperature, req.stop, req.seed) == (7, 0.3, ["x"], 5)


@pytest.mark.parametrize("transport", ["http", "openai", "litellm"])
def test_http_transports_agree_on_answers_usage_and_cache_keys(transport, tmp_path):
    """Both transports send the same request and file it under the same cache key, so a cache
    written through one replays through the other."""
    with StubServer(default=Reply.ok("The answer is 7.")) as srv:
        cache = Cache(tmp_path / "c.sqlite")
        llm = LLM("openai/stub", api_base=srv.url, api_key="none", cache=cache, transport=transport)
        [c] = llm.generate("What is 3+4?", max_tokens=20, seed=1)
        assert (c.text, c.usage.prompt_tokens, c.usage.completion_tokens) == ("The answer is 7.", 10, 4)
        [sent] = srv.requests
        assert sent["max_tokens"] == 20 and sent["messages"][-1]["content"] == "What is 3+4?"
        other = "litellm" if transport == "openai" else "openai"
        again = LLM("openai/stub", api_base=srv.url, api_key="none", cache=Cache(tmp_path / "c.sqlite"),
                    transport=other)
        [d] = again.generate("What is 3+4?", max_tokens=20, seed=1)
        assert d.cached and d.text == c.text and len(srv.requests) == 1


@pytest.mark.parametrize("transport", ["http", "openai", "litellm"])
def test_streaming_yields_deltas_then_the_completion_and_settles_the_budget(transport):
    with StubServer(default=Reply.ok("one two three four")) as srv:
        llm = LLM("openai/stub", api_base=srv.url, api_key="none", transport=transport)
        budget = Budget(tokens=1000).meter()
        async def go() -> list:
            return [item async for item in llm.astream("count", budget=budget)]

        items = asyncio.run(go())
    *deltas, final = items
    assert "".join(deltas) == "one two three four" and len(deltas) == 4
    assert isinstance(final, Completion) and final.text == "one two three four"
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (10, 4)
    assert budget.used.total_tokens == 14 and budget.used.calls == 1
    assert srv.requests[0]["stream"] is True


def test_streaming_a_cached_sample_replays_it_whole(tmp_path):
    llm = FakeLLM(["a b c"], cache=Cache(tmp_path / "c.sqlite"))
    llm.generate("q")

    async def go() -> list:
        return [item async for item in llm.astream("q")]

    first, final = asyncio.run(go())
    assert first == "a b c" and final.cached and len(llm.requests) == 1


def test_prepare_returns_a_ready_copy_and_leaves_the_strategy_as_it_was():
    def reply(req):
        return "Let's think step by step.\nSo the answer is 3." if "Let's think" in req.prompt else "The answer is 3."

    llm = FakeLLM(reply)
    auto = AutoCoT(pool=["What is 1+2?", "What is 2+1?"], k=1)
    sc = SelfConsistency(base=auto, n=2)
    ready, record = asyncio.run(sc.aprepared(llm=llm))
    assert ready is not sc and ready.base is not auto  # type: ignore[attr-defined]
    assert auto.demos is None  # the state went to the copy
    assert [d.answer for d in ready.base.demos] == ["3"]  # type: ignore[attr-defined]
    assert record.usage.calls == 1
    calls = len(llm.requests)
    result = ready.run("What is 1+1?", llm=llm)
    assert result.answer == "3" and len(llm.requests) == calls + 2  # no demo built again
    assert asyncio.run(ready.aprepared(llm=llm))[0] is ready  # prepared twice: nothing to do


@pytest.mark.parametrize("transport", ["http", "openai", "litellm"])
def test_a_stream_that_fails_before_its_first_delta_is_retried(transport):
    from reasoners import RetryPolicy

    with StubServer([Reply.error(500), Reply.connection_reset()], default=Reply.ok("a b")) as srv:
        llm = LLM("openai/stub", api_base=srv.url, api_key="none", transport=transport,
                  retry=RetryPolicy(attempts=3, initial_wait=0.01, jitter=0))

        async def go() -> list:
            return [item async for item in llm.astream("q")]

        *deltas, final = asyncio.run(go())
    assert "".join(deltas) == "a b" == final.text and len(srv.requests) == 3


@pytest.mark.parametrize("transport", ["http", "openai", "litellm"])
def test_reasoning_tokens_are_counted_where_the_upstream_reports_them(transport):
    # 5 reasoning tokens beside 4 completion tokens cannot be a part of them: they are charged on top
    with StubServer(default=Reply(text="The answer is 3.", reasoning_tokens=5)) as srv:
        llm = LLM("openai/stub", api_base=srv.url, api_key="none", transport=transport)
        [c] = llm.generate("q")
    assert c.usage.reasoning_tokens == 5 and c.usage.completion_tokens == 4 + 5


# -- the seam: a send-only transport and a separate model-info object, one way to inject either -------


def test_a_transport_only_sends_and_model_facts_live_apart():
    from reasoners.llm.chat import ChatTransport
    from reasoners.llm.litellm_transport import LiteLLMInfo
    from reasoners.llm.openai_transport import OpenAITransport
    from reasoners.llm.transport import ModelInfo, Transport

    assert {m for m in Transport.__abstractmethods__} == {"complete", "score"}
    assert not any(hasattr(Transport, m) for m in ("capabilities", "count_tokens", "count_text", "prices"))
    assert set(ModelInfo.__abstractmethods__) == {"capabilities", "count_tokens", "count_text"}
    assert not issubclass(OpenAITransport, LiteLLMTransport) and issubclass(OpenAITransport, ChatTransport)
    assert issubclass(HTTPTransport, ChatTransport)
    lean = LLM("openai/x", api_base="http://127.0.0.1:9/v1")
    assert isinstance(lean.transport, HTTPTransport) and isinstance(lean.info, LiteLLMInfo)


def test_one_way_to_inject_a_model_of_ones_own():
    from reasoners import ConfigError
    from reasoners.llm.transport import ModelInfo, Reply, Choice, Transport
    from reasoners.llm.types import Capabilities

    class Echo(Transport):
        model = "mine/echo"

        async def complete(self, messages, options, *, n, timeout):
            return Reply([Choice("The answer is 7.")] * n, prompt_tokens=5, completion_tokens=4 * n)

        async def score(self, prompt, continuation, *, timeout):
            raise NotImplementedError

    class Facts(ModelInfo):
        def capabilities(self):
            return Capabilities(n=True, logprobs=False, prompt_logprobs=False, seed=False)

        def count_tokens(self, messages):
            return 5

        def count_text(self, text):
            return len(text.split())

    llm = LLM("mine/echo", transport=Echo(), info=Facts())
    [a, b] = llm.generate("q?", n=2)
    assert a.text == b.text == "The answer is 7." and llm.capabilities.n is True
    assert ChainOfThought().run("What is 3 + 4?", llm=llm).answer == "7"
    with pytest.raises(ConfigError, match="transport="):
        LLM("fake/x", backend=object())


def test_http_transport_goes_through_the_environment_proxy_unless_no_proxy(monkeypatch):
    """HTTP_PROXY and NO_PROXY are read once per session (not in a thread on every request), as the SDKs do."""
    from reasoners import APIConnectionError, RetryPolicy

    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with StubServer(default=Reply.ok("through the proxy")) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.removesuffix("/v1"))

        def client():
            return LLM("openai/stub", api_base="http://upstream.invalid/v1", api_key="k", transport="http",
                       retry=RetryPolicy(attempts=1))

        assert client().generate("hi")[0].text == "through the proxy"  # upstream.invalid resolves nowhere
        monkeypatch.setenv("NO_PROXY", "upstream.invalid")
        with pytest.raises(APIConnectionError):
            client().generate("hi")


def test_http_transport_requests_stay_on_the_event_loop(monkeypatch):
    """No worker thread per request (aiohttp's trust_env looks up proxies and ~/.netrc in one, twice a
    call: most of the client's CPU per call)."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a proxy that NO_PROXY rules out for the stub
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with StubServer(default=Reply.ok("hi")) as srv:
        llm = LLM("openai/stub", api_base=srv.url, api_key="k", transport="http")
        hops = []

        async def calls():
            loop = asyncio.get_running_loop()
            real = loop.run_in_executor
            monkeypatch.setattr(loop, "run_in_executor", lambda *a: hops.append(a) or real(*a))
            for _ in range(3):
                await llm.agenerate("hi", budget=Budget())
            await llm.aclose()

        asyncio.run(calls())
    assert hops == []
