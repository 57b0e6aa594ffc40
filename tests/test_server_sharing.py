"""A server many clients share (issue 37): stalled bodies hold no slot, keys do not see each other,
the default strategy is prepared once at start-up, code runs only when the operator allows it,
and one request's long prompt does not change everyone's budget."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any
from urllib.parse import urlparse

import httpx
import openai
import pytest

from reasoners.testing import serving as serving_upstream
from reasoners.testing.stub_server import Reply, StubServer

pytestmark = pytest.mark.slow  # starts processes (servers, sandboxes, Ray, a browser): not in `make unit`

UPSTREAM = "openai/stub"
ASK = [{"role": "user", "content": "What is 6 * 7?"}]


def serving(stub: StubServer, *args: str) -> Any:
    return serving_upstream(stub.url, *args, model=UPSTREAM)


def _stall(url: str, count: int) -> list[socket.socket]:
    """``count`` connections that send headers and half a body, then nothing."""
    where = urlparse(url)
    held = []
    for _ in range(count):
        s = socket.create_connection((where.hostname, where.port))
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"model\": \"openai/stub\", \"messa")
        held.append(s)
    return held


def _read_until_closed(s: socket.socket) -> str:
    """The whole reply: one ``recv`` may return the headers before the body arrives."""
    chunks = []
    while chunk := s.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_stalled_bodies_do_not_delay_others_and_faults_lose_nothing():
    with StubServer(default=Reply.ok("The answer is 42."), fault_rate=0.3, hang_seconds=1.0, seed=3) as stub, \
            serving(stub, "--concurrency", "16", "--max-queue", "400", "--upstream-timeout", "0.5",
                    "--body-seconds", "5") as url:
        client = httpx.Client(timeout=60)
        t0 = time.perf_counter()
        assert client.post(f"{url}/chat/completions", json={"model": UPSTREAM, "messages": ASK}).status_code in (
            200, 502, 504)
        alone = time.perf_counter() - t0
        held = _stall(url, 100)
        try:
            stub.fault_rate = 0.0
            t0 = time.perf_counter()
            r = client.post(f"{url}/chat/completions", json={"model": UPSTREAM, "messages": ASK})
            with_stalled = time.perf_counter() - t0
            assert r.status_code == 200 and with_stalled < alone + 1.0
            stub.fault_rate = 0.3

            async def many() -> list[httpx.Response]:
                async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=300)) as c:
                    return await asyncio.gather(*(c.post(f"{url}/chat/completions", json={
                        "model": UPSTREAM, "messages": [{"role": "user", "content": f"What is {i} * 7?"}]})
                        for i in range(300)))

            replies = asyncio.run(many())
        finally:
            for s in held:
                s.close()
    # none lost: every request answered, or failed with an OpenAI-shaped error after its retries
    assert len(replies) == 300
    assert all(r.status_code == 200 or (r.status_code in (502, 504) and "error" in r.json()) for r in replies)
    assert sum(r.status_code == 200 for r in replies) >= 290
    assert stub.faults > 30


def test_a_stalled_body_times_out_with_a_408():
    with StubServer() as stub, serving(stub, "--body-seconds", "1") as url:
        [s] = _stall(url, 1)
        s.settimeout(10)
        answer = _read_until_closed(s)
        s.close()
    assert answer.startswith("HTTP/1.1 408") and "did not arrive within 1 s" in answer


def test_two_keys_see_neither_traces_nor_cached_calls_of_each_other(tmp_path):
    with StubServer(default=Reply.ok("The answer is 42.")) as stub, \
            serving(stub, "--api-key", "key-one-1234567", "--api-key", "key-two-7654321",
                    "--cache", str(tmp_path / "c.sqlite")) as url:
        one = openai.OpenAI(base_url=url, api_key="key-one-1234567")
        two = openai.OpenAI(base_url=url, api_key="key-two-7654321")
        first = one.chat.completions.create(model=UPSTREAM, messages=ASK)
        again = one.chat.completions.create(model=UPSTREAM, messages=ASK)
        other = two.chat.completions.create(model=UPSTREAM, messages=ASK)
        assert first.model_extra["reasoners"]["cache_hits"] == 0
        assert again.model_extra["reasoners"]["cache_hits"] == 1  # the same key replays its own call
        assert other.model_extra["reasoners"]["cache_hits"] == 0  # the other key learns nothing of it
        trace = first.model_extra["reasoners"]["trace_id"]
        mine = httpx.get(f"{url}/traces/{trace}", headers={"Authorization": "Bearer key-one-1234567"})
        theirs = httpx.get(f"{url}/traces/{trace}", headers={"Authorization": "Bearer key-two-7654321"})
        assert mine.status_code == 200 and theirs.status_code == 404
        assert "What is 6 * 7?" in mine.text and "What is 6 * 7?" not in theirs.text
    with StubServer(default=Reply.ok("The answer is 42.")) as stub, \
            serving(stub, "--api-key", "key-one-1234567", "--api-key", "key-two-7654321", "--share-cache",
                    "--cache", str(tmp_path / "c2.sqlite")) as url:
        openai.OpenAI(base_url=url, api_key="key-one-1234567").chat.completions.create(model=UPSTREAM, messages=ASK)
        shared = openai.OpenAI(base_url=url, api_key="key-two-7654321").chat.completions.create(
            model=UPSTREAM, messages=ASK)
        assert shared.model_extra["reasoners"]["cache_hits"] == 1  # shared because the operator asked


def test_the_default_strategy_is_prepared_once_at_start_up(tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("\n".join(f"Sam has {i} apples and buys {i + 1} more. How many?" for i in range(1, 7)))
    with StubServer(default=Reply.ok("Let's add. The answer is 5.")) as stub:
        with serving(stub, "--strategy", f"autocot(pool={pool},k=2)") as url:
            prepared = len(stub.requests)
            assert prepared >= 1  # the demos were built before the first request
            metrics = httpx.get(url.removesuffix("/v1") + "/metrics").text
            assert 'reasoners_prepare_calls{model="openai/stub"}' in metrics
            first = httpx.post(f"{url}/chat/completions", timeout=30, json={"model": UPSTREAM, "messages": ASK})
            demos = sum(m["role"] == "assistant" for m in stub.requests[-1]["messages"])
            assert first.status_code == 200 and demos >= 1 and len(stub.requests) == prepared + 1
            tiny = httpx.post(f"{url}/chat/completions", timeout=30, json={
                "model": UPSTREAM, "messages": ASK, "reasoners": {"budget": {"tokens": 400}}})
            assert tiny.status_code == 200
            assert sum(m["role"] == "assistant" for m in stub.requests[-1]["messages"]) == demos
            for i in range(5):  # cheap specs cannot evict or rebuild it
                httpx.post(f"{url}/chat/completions", timeout=30, json={
                    "model": f"sc(n={i + 1})@{UPSTREAM}", "messages": ASK})
            before = len(stub.requests)
            r = httpx.post(f"{url}/chat/completions", timeout=30, json={"model": UPSTREAM, "messages": ASK})
            assert r.status_code == 200 and len(stub.requests) == before + 1  # one call: demos not rebuilt
            asked = stub.requests[-1]["messages"]
            assert sum(m["role"] == "assistant" for m in asked) == demos  # as prepared, whatever budgets came
            files = httpx.post(f"{url}/chat/completions", timeout=30, json={
                "model": UPSTREAM, "messages": ASK, "reasoners": {"strategy": f"autocot(pool={pool},k=2)"}})
            assert files.status_code == 400 and "file paths are not accepted" in files.json()["error"]["message"]


def test_code_runs_only_when_the_operator_allows_it():
    code = "```python\ndef f(x):\n    return x\n```"
    body = {"model": UPSTREAM, "messages": [{"role": "user", "content": "Write f(x) returning x."}],
            "reasoners": {"strategy": "codechain(n=2,rounds=0)", "kind": "code"}}
    with StubServer(default=Reply.ok(code)) as stub:
        with serving(stub) as url:
            refused = httpx.post(f"{url}/chat/completions", json=body, timeout=30)
            assert refused.status_code == 403 and "--allow-code" in refused.json()["error"]["message"]
            assert stub.requests == []
        with serving(stub, "--allow-code", "--max-sandboxes", "1") as url:
            allowed = httpx.post(f"{url}/chat/completions", json=body, timeout=60)
            assert allowed.status_code == 200 and "def f" in allowed.json()["choices"][0]["message"]["content"]


def test_one_long_prompt_does_not_change_everyones_budget():
    """The stub reports 10 prompt tokens for any prompt: the client's counts of long prompts are far
    above it, short ones below; the margin learned on a long prompt must not starve short ones."""
    from reasoners import LLM, Budget, SelfConsistency

    with StubServer(default=Reply.ok("The answer is 42.")) as stub:
        llm = LLM(UPSTREAM, api_base=stub.url, api_key="none", max_tokens=400)
        llm._path.learn_margin(5, 900)  # as one request whose prompt was undercounted by 895 tokens would
        result = SelfConsistency(n=4).run("What is 6 * 7?", llm=llm, budget=Budget(tokens=2000))
    assert result.answer == "42" and not result.exhausted
    assert llm._path.prompt_margin(5) >= 895  # a prompt of that size still gets the margin it showed


@pytest.mark.parametrize("secret_var", ["WATSONX_APIKEY", "MY_SERVICE_TOKEN", "DB_PASSWORD"])
def test_secrets_by_common_name_patterns_are_recognised(monkeypatch, secret_var):
    from reasoners.llm.convert import configured_secrets, redact

    monkeypatch.setenv(secret_var, "s3cr3t-value-abcdef")
    assert "s3cr3t-value-abcdef" in configured_secrets()
    assert "s3cr3t" not in redact("failed with s3cr3t-value-abcdef", configured_secrets())


def test_the_chained_exception_holds_no_key():
    from reasoners import LLM, LLMError

    key = "sk-chained-0123456789abcdefghij"
    with StubServer(default=Reply.auth_echo()) as stub:
        llm = LLM(UPSTREAM, api_base=stub.url, api_key=key, transport="openai")
        with pytest.raises(LLMError) as info:
            llm.generate("q")
    seen, cur = [], info.value
    while cur is not None and len(seen) < 10:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in seen:
        assert key not in str(e) and key not in repr(getattr(e, "args", ""))
        response = getattr(e, "response", None)
        assert response is None or key not in getattr(response, "text", "")
