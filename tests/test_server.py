"""`reasoners serve` as a process the test starts, reached through real clients (the openai package,
LangChain's ChatOpenAI, litellm, raw httpx) against a stub upstream that counts what it served."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from reasoners.testing import running_server
from reasoners.testing.stub_server import Reply, StubServer

pytestmark = pytest.mark.slow  # starts processes (servers, sandboxes, Ray, a browser): not in `make unit`

UPSTREAM = "openai/stub"


@contextlib.contextmanager
def serving(stub: StubServer, *args: str) -> Iterator[str]:
    argv = [sys.executable, "-m", "reasoners.cli", "serve", "--model", UPSTREAM, "--api-base", stub.url,
            "--port", "{port}", *args]
    with running_server(argv, seconds=60) as url:
        yield url


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with StubServer(default=Reply.ok("Six times seven is 42. The answer is 42.")) as srv:
        yield srv


@pytest.fixture(scope="module")
def server(stub) -> Iterator[str]:
    with serving(stub, "--max-queue", "300", "--max-budget-tokens", "5000") as url:
        yield url


def served_since(stub: StubServer, mark: int) -> list[dict]:
    return stub.requests[mark:]


def test_openai_client_non_streaming_usage_is_what_the_upstream_served(server, stub):
    client = openai.OpenAI(base_url=server, api_key="unused")
    mark = len(stub.requests)
    reply = client.chat.completions.create(
        model=UPSTREAM, messages=[{"role": "user", "content": "What is 6*7?"}],
        extra_body={"reasoners": {"strategy": "sc(n=3)", "kind": "number"}})
    sent = served_since(stub, mark)
    assert len(sent) == 3
    assert reply.choices[0].message.content.endswith("The answer is 42.")
    # the stub serves 10 prompt tokens and one token per word
    assert reply.usage.prompt_tokens == 30 and reply.usage.completion_tokens == 3 * 9
    extra = reply.model_extra["reasoners"]
    assert extra["answer"] == "42" and extra["calls"] == 3 and extra["strategy"] == "sc(n=3)"
    assert extra["votes"] == {"42": 3} and [c["votes"] for c in extra["candidates"]] == [3, 3, 3]
    assert not extra["exhausted"] and not extra["degraded"]
    trace = httpx.get(f"{server}/traces/{extra['trace_id']}").json()
    assert trace["name"] == "sc" and trace["kind"] == "run"


def test_openai_client_streams_cot_as_the_upstream_writes_it(server, stub):
    client = openai.OpenAI(base_url=server, api_key="unused")
    chunks = list(client.chat.completions.create(
        model=UPSTREAM, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 6*7?"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Six times seven is 42. The answer is 42."
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 9  # word by word, forwarded
    [usage] = [c.usage for c in chunks if c.usage is not None]
    assert usage.prompt_tokens == 10 and usage.completion_tokens == 9
    upstream = stub.requests[-1]
    assert upstream["stream"] is True
    assert upstream["messages"][0] == {"role": "system", "content": "Be brief."}  # the conversation goes along


def test_async_openai_client_streams_progress_of_a_multi_call_strategy(server):
    async def go() -> list:
        client = openai.AsyncOpenAI(base_url=server, api_key="unused")
        stream = await client.chat.completions.create(model=f"sc(n=4)@{UPSTREAM}", stream=True,
                                                      messages=[{"role": "user", "content": "What is 6*7?"}])
        return [c async for c in stream]

    chunks = asyncio.run(go())
    progress = [c.model_extra["reasoners"] for c in chunks if (c.model_extra or {}).get("reasoners")]
    votes = [p for p in progress if p.get("event") == "votes"]
    assert [v["samples"] for v in votes] == [1, 2, 3, 4] and votes[-1]["counts"] == {"42": 4}
    final = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(final) == 1 and final[0].model_extra["reasoners"]["answer"] == "42"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.endswith("The answer is 42.")


def test_async_openai_client_non_streaming(server):
    async def go():
        client = openai.AsyncOpenAI(base_url=server, api_key="unused")
        return await client.chat.completions.create(model=UPSTREAM, messages=[{"role": "user", "content": "6*7?"}])

    reply = asyncio.run(go())
    assert reply.choices[0].message.content.endswith("42.") and reply.usage.total_tokens == 19


def test_a_three_call_budget_on_sc8_makes_at_most_three_upstream_calls(server, stub):
    mark = len(stub.requests)
    r = httpx.post(f"{server}/chat/completions", timeout=30, json={
        "model": UPSTREAM, "messages": [{"role": "user", "content": "What is 6*7?"}],
        "reasoners": {"strategy": "sc(n=8)", "budget": {"calls": 3}}})
    assert r.status_code == 200
    assert len(served_since(stub, mark)) <= 3
    assert r.json()["reasoners"]["exhausted"] is True and r.json()["reasoners"]["calls"] <= 3


def test_sampling_fields_pass_through_unless_the_strategy_sets_them(server, stub):
    httpx.post(f"{server}/chat/completions", timeout=30, json={
        "model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "max_completion_tokens": 33,
        "temperature": 0.3, "seed": 9, "stop": ["\n\n"], "top_p": 0.8, "reasoning_effort": "low",
        "user": "u1", "metadata": {"a": "b"}, "n": 1})
    sent = stub.requests[-1]
    assert (sent["max_tokens"], sent["temperature"], sent["stop"]) == (33, 0.3, ["\n\n"])
    assert (sent["top_p"], sent["seed"], sent["reasoning_effort"]) == (0.8, 9, "low")
    assert "user" not in sent and "metadata" not in sent  # accepted, not forwarded
    httpx.post(f"{server}/chat/completions", timeout=30, json={
        "model": "sc(n=2,temperature=0.9)@" + UPSTREAM, "messages": [{"role": "user", "content": "q"}],
        "temperature": 0.1})
    assert [r["temperature"] for r in stub.requests[-2:]] == [0.9, 0.9]  # the strategy's own setting wins


def test_a_requests_seed_seeds_the_run(server, stub):
    def sample_seeds(seed):
        extra = {} if seed is None else {"seed": seed}
        httpx.post(f"{server}/chat/completions", timeout=30, json={
            "model": "sc(n=2)@" + UPSTREAM, "messages": [{"role": "user", "content": "seeded?"}], **extra})
        return sorted(r["seed"] for r in stub.requests[-2:])

    default, nine = sample_seeds(None), sample_seeds(9)
    assert len(set(nine)) == 2 and set(nine).isdisjoint(default)  # samples still differ, and follow the seed
    assert sample_seeds(9) == nine


def test_models_health_and_metrics(server):
    ids = [m["id"] for m in httpx.get(f"{server}/models").json()["data"]]
    assert ids[0] == UPSTREAM and {"cot", "sc", "bon", "fobar"} <= set(ids)
    assert httpx.get(server.removesuffix("/v1") + "/health").json()["status"] == "ok"
    text = httpx.get(server.removesuffix("/v1") + "/metrics").text
    assert 'reasoners_requests_total{status="200"}' in text
    assert "reasoners_upstream_calls_total" in text and "reasoners_request_seconds_bucket" in text


def test_a_strategy_name_from_the_model_list_runs_on_the_default_model(server, stub):
    mark = len(stub.requests)
    r = httpx.post(f"{server}/chat/completions", timeout=30,
                   json={"model": "sc", "messages": [{"role": "user", "content": "What is 6*7?"}]})
    assert r.status_code == 200 and r.json()["reasoners"]["strategy"] == "sc"
    from reasoners import SelfConsistency

    assert len(served_since(stub, mark)) == SelfConsistency().n  # its default number of samples


BAD = [
    ({"messages": [{"role": "user", "content": "q"}]}, 400, "model must be a non-empty string"),
    ({"model": UPSTREAM}, 400, "messages must be a non-empty list"),
    ({"model": UPSTREAM, "messages": [{"role": "assistant", "content": "q"}]}, 400, "last message must be the user"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "tools": [{"type": "function"}]}, 400,
     "tools is not supported"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "n": 3}, 400, "n must be 1"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "logit_bias": {"1": 2}}, 400,
     "logit_bias is not supported"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "response_format": {"type": "json"}}, 400,
     "response_format is not supported"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "temperature": "hot"}, 400,
     "temperature must be a number"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "max_tokens": 0}, 400,
     "max_tokens must be >= 1"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 400,
     "only text parts are supported"),
    ({"model": "nope", "messages": [{"role": "user", "content": "q"}]}, 404, "model 'nope' is not served"),
    ({"model": f"zz(n=2)@{UPSTREAM}", "messages": [{"role": "user", "content": "q"}]}, 400, "unknown strategy 'zz'"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "reasoners": {"strategy": "sc(n=)"}}, 400,
     "bad strategy spec 'sc(n=)': expected a value, found ')' at position 5"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}],
      "reasoners": {"strategy": "autocot(pool=/etc/passwd)"}}, 400, "file paths are not accepted"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "reasoners": {"budget": {"tokens": 10**6}}},
     400, "above this server's limit of 5000"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "reasoners": {"budget": {"calls": -1}}},
     400, "reasoners.core.budget.calls must be >= 1"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "reasoners": {"budget": {"watts": 3}}},
     400, "reasoners.core.budget.watts is not a limit"),
    ({"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}], "reasoners": {"colour": "red"}},
     400, "reasoners.colour is not a field"),
    ({"model": f"cot@{UPSTREAM}", "messages": [{"role": "user", "content": "q"}], "reasoners": {"strategy": "sc"}},
     400, "give the strategy once"),
]


@pytest.mark.parametrize("body, status, message", BAD, ids=[m for _, _, m in BAD])
def test_bad_requests_get_one_clear_line(server, body, status, message):
    r = httpx.post(f"{server}/chat/completions", json=body, timeout=30)
    assert r.status_code == status
    error = r.json()["error"]
    assert message in error["message"] and "\n" not in error["message"] and "Traceback" not in r.text


@pytest.mark.parametrize("raw, message", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"model": "' + b"x" * 1_100_000 + b'"}', "at most 1000000"),
])
def test_bodies_that_are_not_requests(server, raw, message):
    r = httpx.post(f"{server}/chat/completions", content=raw, headers={"content-type": "application/json"},
                   timeout=30)
    assert r.status_code == 400 and message in r.json()["error"]["message"]


def test_langchain_chat_openai_through_the_server(server):
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(model=f"sc(n=2)@{UPSTREAM}", base_url=server, api_key="unused", max_retries=0)
    reply = chat.invoke("What is 6*7?")
    assert reply.content.endswith("The answer is 42.")
    assert reply.usage_metadata["input_tokens"] == 20
    streamed = "".join(str(c.content) for c in ChatOpenAI(model=UPSTREAM, base_url=server, api_key="unused",
                                                         streaming=True).stream("What is 6*7?"))
    assert streamed == "Six times seven is 42. The answer is 42."


def test_litellm_as_a_client(server):
    from reasoners.llm.convert import litellm

    reply = litellm().completion(model=f"openai/{UPSTREAM}", api_base=server, api_key="unused",
                                 messages=[{"role": "user", "content": "What is 6*7?"}])
    assert reply.choices[0].message.content.endswith("42.") and reply.usage.prompt_tokens == 10


def test_two_hundred_concurrent_requests_all_succeed_when_the_queue_allows(server):
    async def go() -> list[int]:
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=200)) as client:
            rs = await asyncio.gather(*(client.post(f"{server}/chat/completions", json={
                "model": UPSTREAM, "messages": [{"role": "user", "content": f"What is {i}*7?"}]})
                for i in range(200)))
        return [r.status_code for r in rs]

    assert asyncio.run(go()) == [200] * 200


def test_overflow_beyond_the_queue_gets_429_with_retry_after():
    with StubServer(default=Reply.ok("The answer is 1.", delay=0.6)) as slow, \
            serving(slow, "--concurrency", "1", "--max-queue", "2") as url:
        async def go() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=60) as client:
                return await asyncio.gather(*(client.post(f"{url}/chat/completions", json={
                    "model": UPSTREAM, "messages": [{"role": "user", "content": "q"}]}) for _ in range(10)))

        rs = asyncio.run(go())
    ok = [r for r in rs if r.status_code == 200]
    rejected = [r for r in rs if r.status_code == 429]
    assert len(ok) + len(rejected) == 10 and 1 <= len(ok) <= 3 and len(rejected) >= 7
    assert all(r.headers["retry-after"] == "1" and "at capacity" in r.json()["error"]["message"] for r in rejected)


def test_auth_keys_are_required_when_set():
    with StubServer(default=Reply.ok("The answer is 1.")) as up, \
            serving(up, "--api-key", "key-one-12345", "--api-key", "key-two-67890") as url:
        body = {"model": UPSTREAM, "messages": [{"role": "user", "content": "q"}]}
        assert httpx.post(f"{url}/chat/completions", json=body).status_code == 401
        wrong = httpx.post(f"{url}/chat/completions", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
        assert httpx.get(f"{url}/models").status_code == 401
        good = openai.OpenAI(base_url=url, api_key="key-two-67890")
        reply = good.chat.completions.create(model=UPSTREAM, messages=[{"role": "user", "content": "q"}])
        trace_id = reply.model_extra["reasoners"]["trace_id"]
        assert httpx.get(f"{url}/traces/{trace_id}").status_code == 401
        # a key reads the traces of its own requests only (issue 37: tenants do not see each other)
        assert httpx.get(f"{url}/traces/{trace_id}",
                         headers={"Authorization": "Bearer key-one-12345"}).status_code == 404
        assert httpx.get(f"{url}/traces/{trace_id}",
                         headers={"Authorization": "Bearer key-two-67890"}).status_code == 200
        assert len(up.requests) == 1  # refused requests spent nothing


def test_a_disconnect_mid_stream_cancels_the_upstream_stream():
    with StubServer(default=Reply(text=" ".join(["word"] * 40), word_delay=0.1)) as up, serving(up) as url:
        with httpx.stream("POST", f"{url}/chat/completions", timeout=30, json={
                "model": UPSTREAM, "stream": True, "messages": [{"role": "user", "content": "q"}]}) as r:
            for line in r.iter_lines():
                if '"content": "word"' in line:
                    break  # the first word arrived: hang up
        time.sleep(5.5)  # the whole upstream stream takes 4 s
        assert len(up.requests) == 1 and up.streamed == 0  # the server stopped reading it
        assert httpx.get(url.removesuffix("/v1") + "/health").json()["admitted"] == 0  # its place was freed


def test_a_disconnect_mid_run_makes_no_more_upstream_calls():
    with StubServer(default=Reply.ok("The answer is 3.", delay=2.0)) as up, serving(up) as url:
        host, port = httpx.URL(url).host, httpx.URL(url).port
        body = json.dumps({"model": f"bon(n=2,scorer=judge)@{UPSTREAM}",
                           "messages": [{"role": "user", "content": "q"}]})
        with socket.create_connection((host, port), timeout=30) as conn:
            conn.sendall((f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())
            deadline = time.monotonic() + 30
            while len(up.requests) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert len(up.requests) == 2  # both samples are upstream: hang up before they come back
        time.sleep(4.0)  # the samples are back after 2 s; the judge's calls would follow
        assert len(up.requests) == 2  # the two samples; no judge calls
        assert httpx.get(url.removesuffix("/v1") + "/health").json()["admitted"] == 0


def test_reasoning_tokens_reach_the_usage_details():
    with StubServer(default=Reply(text="The answer is 3.", reasoning_tokens=7)) as up, serving(up) as url:
        reply = openai.OpenAI(base_url=url, api_key="unused").chat.completions.create(
            model=f"sc(n=2)@{UPSTREAM}", messages=[{"role": "user", "content": "q"}])
    assert reply.usage.completion_tokens_details.reasoning_tokens == 14  # two samples, 7 each


def test_cached_calls_are_cache_hits_and_add_nothing_to_usage(tmp_path):
    with StubServer(default=Reply.ok("The answer is 5.")) as up, \
            serving(up, "--cache", str(tmp_path / "cache.sqlite")) as url:
        body = {"model": f"sc(n=2)@{UPSTREAM}", "messages": [{"role": "user", "content": "2+3?"}]}
        first = httpx.post(f"{url}/chat/completions", json=body, timeout=30).json()
        again = httpx.post(f"{url}/chat/completions", json=body, timeout=30).json()
    assert first["usage"]["total_tokens"] == 2 * 14 and first["reasoners"]["cache_hits"] == 0
    assert again["usage"]["total_tokens"] == 0 and again["reasoners"]["cache_hits"] == 2
    assert again["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]
    assert len(up.requests) == 2


@pytest.mark.parametrize("model, split", [
    ("local/smollm2", (None, "local/smollm2")),
    ("sc(n=8)@openai/gpt-4o", ("sc(n=8)", "openai/gpt-4o")),
    ('sc(base=cot(system="mail a@b"))@m@x', ('sc(base=cot(system="mail a@b"))', "m@x")),
    ("bon(scorer=judge(model=a@b))@m", ("bon(scorer=judge(model=a@b))", "m")),
])
def test_spec_and_model_split_at_the_first_at_outside_parentheses_and_quotes(model, split):
    from reasoners.server.request import split_model

    assert split_model(model) == split


def test_the_servers_upstream_key_never_reaches_clients_logs_or_traces(monkeypatch, tmp_path):
    key = "sk-upstream-SECRET-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", key)  # the server's environment, as litellm and the SDK read it
    with StubServer([Reply.ok("The answer is 5.")], default=Reply.auth_echo(401)) as up, serving(up) as url:
        ok = httpx.post(f"{url}/chat/completions", timeout=30, json={
            "model": UPSTREAM, "messages": [{"role": "user", "content": "2+3?"}]}).json()
        failed = httpx.post(f"{url}/chat/completions", timeout=30, json={
            "model": UPSTREAM, "messages": [{"role": "user", "content": "again"}]})
        trace = httpx.get(f"{url}/traces/{ok['reasoners']['trace_id']}").text
        metrics = httpx.get(url.removesuffix("/v1") + "/metrics").text
    assert up.requests and failed.status_code == 502
    assert "invalid credentials" in failed.text  # the upstream's message, quoting the header...
    for text in (json.dumps(ok), failed.text, trace, metrics):
        assert key not in text  # ...with the key redacted


def test_upstream_failure_is_a_502_with_its_message_and_no_trace():
    with StubServer(default=Reply.error(400, message="upstream says: model overloaded")) as up, \
            serving(up) as url:
        r = httpx.post(f"{url}/chat/completions", timeout=30, json={
            "model": UPSTREAM, "messages": [{"role": "user", "content": "q"}]})
        assert r.status_code == 502 and "model overloaded" in r.json()["error"]["message"]
        assert "Traceback" not in r.text
        stream = httpx.post(f"{url}/chat/completions", timeout=30, json={
            "model": UPSTREAM, "stream": True, "messages": [{"role": "user", "content": "q"}]})
        events = [json.loads(line[6:]) for line in stream.text.splitlines()
                  if line.startswith("data: {")]
        assert "model overloaded" in events[-1]["error"]["message"] and stream.text.rstrip().endswith("[DONE]")


def test_deepconf_behind_the_server_asks_for_top_logprobs_and_stops_at_consensus():
    sure = Reply(text="so the answer is 7", logprobs=[-0.05] * 5)
    with StubServer(default=sure) as up, serving(up) as url:
        reply = openai.OpenAI(base_url=url, api_key="unused").chat.completions.create(
            model=f"deepconf(n=8,mode=online,warmup=2,window=2)@{UPSTREAM}",
            messages=[{"role": "user", "content": "What is 3 + 4?"}])
    summary = reply.model_extra["reasoners"]
    assert summary["answer"] == "7" and reply.choices[0].message.content.endswith("7")
    assert len(up.requests) == 2  # the two warm-up traces agree: the other six are never drawn
    assert all(r.get("top_logprobs") == 5 and r.get("logprobs") for r in up.requests)
