"""`reasoners serve` on the embedded SmolLM2: one real request per strategy family, through the openai client."""

from __future__ import annotations

import sys

import openai
import pytest

from reasoners.testing import running_server

MODEL = "local/smollm2"


@pytest.fixture(scope="module")
def client():
    argv = [sys.executable, "-m", "reasoners.cli", "serve", "--model", MODEL, "--port", "{port}",
            "--concurrency", "2"]
    with running_server(argv, seconds=120) as url:
        yield openai.OpenAI(base_url=url, api_key="unused", timeout=300)


ASK = [{"role": "user", "content": "What is 2 + 3?"}]


@pytest.mark.parametrize("spec, calls", [
    ("cot", 1),
    ("sc(n=2)", 2),
    ("bon(n=2,scorer=mean_logprob)", 2),
    ("sc(n=2) | trlm", 4),  # two samples, then each scored by the model's prompt logprobs
    ("fobar(forward=sc(n=2),chains=1,max_masks=1,backward_max_tokens=48)", None),
])
def test_each_strategy_family_answers_a_real_request(client, spec, calls):
    reply = client.chat.completions.create(model=f"{spec}@{MODEL}", messages=ASK, max_tokens=48,
                                           extra_body={"reasoners": {"kind": "number"}})
    extra = reply.model_extra["reasoners"]
    assert reply.choices[0].message.content.strip()  # real text from the model
    assert extra["strategy"] == spec and not extra["degraded"]
    if calls is not None:
        assert extra["calls"] == calls
    assert reply.usage.completion_tokens > 0 and reply.usage.prompt_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_cot_streams_the_embedded_models_text(client):
    chunks = list(client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=32, stream=True,
                                                 stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    [usage] = [c.usage for c in chunks if c.usage is not None]
    assert text.strip() and usage.completion_tokens > 0


def _calls(node):
    """Every model call in a trace: (the seed it was sent, the text it got back)."""
    own = []
    if node.get("kind") == "llm":
        own = [(node["attrs"]["request"].get("seed"), node["attrs"]["response"][0]["text"])]
    return own + [call for child in node.get("children", []) for call in _calls(child)]


def test_a_requests_seed_seeds_the_embedded_models_samples(client):
    import httpx

    def calls(seed):
        reply = client.chat.completions.create(model=f"sc(n=2)@{MODEL}", messages=ASK, max_tokens=24, seed=seed)
        trace_id = reply.model_extra["reasoners"]["trace_id"]
        return sorted(_calls(httpx.get(f"{client.base_url}traces/{trace_id}", timeout=30).json()))

    seven = calls(7)
    seeds = {seed for seed, _ in seven}
    assert len(seeds) == 2 and seeds.isdisjoint(seed for seed, _ in calls(8))  # samples follow the request's seed
    assert calls(7) == seven  # and the same seed draws the same texts from the model
