"""Reasoning models: thinking kept apart from answers, budgeted, traced and served (issue 35).

Every provider format is imitated whole and streamed by the stub server; the scripted fake
plays a model thinking inside ``<think>`` tags."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
from collections.abc import Iterator

import httpx
import openai
import pytest

from reasoners import LLM, Budget, ChainOfThought, Problem, SelfConsistency
from reasoners.answers import vote
from reasoners.bench.behaviors import REASONING_MARK, rationales
from reasoners.llm.reasoning import ReasoningDelta, StreamSplitter, ThinkingFormat, provider_fields, split_reasoning
from reasoners.llm.types import Capabilities, TokenLogprob
from reasoners.testing import FakeLLM, FakeResponse, running_server
from reasoners.testing.stub_server import THINKING_FORMATS, Reply, StubServer

DRAFT = "Three pens of four: so the answer is 10. Wait, let me re-check: 3 * 4 = 12."
SHEEP = "A farmer has 3 pens with 4 sheep in each pen. How many sheep?"


# -- one place separates thinking from the answer -------------------------------------------------

SPLITS = [
    # text as the model sent it, final text, reasoning
    (f"<think>{DRAFT}</think>\n\n**12 sheep**", "**12 sheep**", DRAFT),
    ("<think>so the answer is 10 and then", "", "so the answer is 10 and then"),           # cut off inside
    ("the answer is 10. hmm</think>\nThe answer is 12.", "The answer is 12.", "the answer is 10. hmm"),  # started inside
    ("<think>a <think>b</think> c</think>The answer is 5.", "The answer is 5.", "a b c"),  # nested
    ("<think>x 1</think>The answer <think>y 2</think>is 3.", "The answer is 3.", "x 1y 2"),  # repeated
    ("The <think> tag wraps thinking. The answer is 4.", "The <think> tag wraps thinking. The answer is 4.", None),
    ("<think>only thinking, no answer</think>\n\n", "", "only thinking, no answer"),       # reasoning only
    ("<|channel|>analysis<|message|>draft 10<|end|><|start|>assistant<|channel|>final<|message|>The answer is 12."
     "<|return|>", "The answer is 12.", "draft 10"),                                         # gpt-oss
    ("<|channel|>analysis<|message|>draft 10, still going", "", "draft 10, still going"),
]


@pytest.mark.parametrize("raw, text, reasoning", SPLITS)
def test_split_reasoning(raw, text, reasoning):
    tokens = [TokenLogprob(raw[i:i + 4], -0.01 * i) for i in range(0, len(raw), 4)]
    split = split_reasoning(raw, tokens)
    assert (split.text, split.reasoning) == (text, reasoning)
    assert "".join(t.token for t in split.logprobs or []) == text  # the answer's tokens spell the answer


@pytest.mark.parametrize("raw, text, reasoning", [s for s in SPLITS if not s[0].startswith("the answer is 10")])
@pytest.mark.parametrize("size", [1, 3, 7])
def test_a_stream_splits_as_the_whole_reply_does(raw, text, reasoning, size):
    splitter = StreamSplitter()
    pieces = [p for i in range(0, len(raw), size) for p in splitter.feed(raw[i:i + size])] + splitter.close()
    assert "".join(p for p in pieces if isinstance(p, str)) == text
    thought = "".join(p.text for p in pieces if isinstance(p, ReasoningDelta))
    assert thought.replace(" ", "") == (reasoning or "").replace(" ", "")


def test_a_template_that_opens_the_block_streams_thinking_from_the_first_token():
    splitter = StreamSplitter(ThinkingFormat(starts_inside=True))
    pieces = splitter.feed("the answer is 10.</thi") + splitter.feed("nk>The answer is 12.") + splitter.close()
    assert pieces == [ReasoningDelta("the answer is 10."), "The answer is 12."]


def test_tags_are_configurable_per_model():
    llm = FakeLLM(["[[r]]draft 10[[/r]] The answer is 12."], thinking=("[[r]]", "[[/r]]"))
    [c] = llm.generate("q")
    assert (c.text, c.reasoning) == ("The answer is 12.", "draft 10")


def test_the_users_question_is_never_stripped():
    llm = FakeLLM(["The answer is 1."])
    ChainOfThought().run("What does <think>x</think> mean? Answer 1.", llm=llm)
    assert "<think>x</think>" in llm.requests[0].prompt


# -- answers come from the final text only ----------------------------------------------------------

def test_the_answer_is_read_from_the_final_text_not_the_thinking():
    llm = FakeLLM([f"<think>{DRAFT}</think>\n\n**12 sheep**"])
    result = ChainOfThought().run(SHEEP, llm=llm)
    assert result.answer == "12" and result.candidates[0].reasoning == DRAFT
    choice = FakeLLM(["<think>The answer is (B).</think>The answer is (C)."])
    picked = ChainOfThought().run(Problem("Pick one.", kind="choice", choices=["a", "b", "c"]), llm=choice)
    assert picked.answer == "C"


def test_a_sample_cut_off_inside_its_thinking_abstains_and_never_votes():
    long_thinking = "<think>" + " ".join(["so the answer is 10."] * 40)
    replies = [FakeResponse(long_thinking), FakeResponse("<think>3 * 4</think> The answer is 12.")]
    llm = FakeLLM(lambda req: replies[0] if (req.seed or 0) % 3 == 0 else replies[1])
    result = SelfConsistency(n=6, base=ChainOfThought(max_tokens=30)).run(SHEEP, llm=llm)
    assert result.answer == "12" and result.metadata["tallies"] == {"12": 4.0}
    assert result.abstained == 2 and result.metadata["abstentions"] == {"starved": 2}
    starved = [c for c in result.candidates if c.metadata.get("abstained")]
    assert len(starved) == 2 and all(c.answer is None and c.reasoning for c in starved)


def test_a_starved_reply_says_so():
    result = ChainOfThought(max_tokens=5).run(SHEEP, llm=FakeLLM(["<think>one two three four five six"]))
    assert result.answer is None and result.abstained == 1
    assert "thinking used up its tokens" in result.metadata["no_answer"]


def _thinker(gold: int, wrong: int, right: bool) -> str:
    final = gold if right else wrong + 1
    return f"<think>Let me see. So the answer is {wrong}. Hmm, wait.</think>\n\nThe answer is {final}."


def test_self_consistency_sits_on_the_majority_vote_limit_over_final_answers():
    """An imitation of a reasoning model whose thinking ends on a wrong draft: SC's accuracy is the
    majority vote over the *final* answers, exactly, and no answer comes from inside the thinking."""
    rng = random.Random(7)
    right_sc = right_limit = 0
    for q in range(60):
        gold, wrong = 20 + q, 70 + q
        script = [_thinker(gold, wrong, rng.random() < 0.55) for _ in range(8)]
        finals = [s.rsplit("The answer is ", 1)[1].rstrip(".") for s in script]
        limit = vote(finals).winner
        result = SelfConsistency(n=8).run(f"Question {q}: what is {gold}?", llm=FakeLLM(script))
        assert all(c.answer != str(wrong) for c in result.candidates)
        assert result.answer == limit
        right_sc += result.answer == str(gold)
        right_limit += limit == str(gold)
    assert right_sc == right_limit and right_sc > 30


# -- every transport, every provider format, whole and streamed -------------------------------------

def _reply(fmt: str, **kw) -> Reply:
    return Reply.thinker("Pens: so the answer is 10. Wait: 3 * 4 = 12.", "**12 sheep**. The answer is 12.", fmt,
                         **kw)


@pytest.mark.parametrize("fmt", [f for f in THINKING_FORMATS if f not in ("hidden", "total_only", "anthropic")])
@pytest.mark.parametrize("transport", ["http", "openai", "litellm"])
def test_every_format_whole_and_streamed(fmt, transport):
    with StubServer(default=_reply(fmt)) as srv:
        llm = LLM("openai/stub", api_base=srv.url, api_key="none", transport=transport)
        [c] = llm.generate("q")

        async def stream() -> list:
            return [item async for item in llm.astream("q2")]

        *deltas, final = asyncio.run(stream())
    assert c.text == "**12 sheep**. The answer is 12." and c.reasoning == "Pens: so the answer is 10. Wait: 3 * 4 = 12."
    assert llm.capabilities.thinks is True  # learned from the first reply
    text = "".join(d for d in deltas if isinstance(d, str))
    thought = "".join(d.text for d in deltas if isinstance(d, ReasoningDelta))
    assert text == final.text == c.text and thought.strip() == c.reasoning
    first_text = next(i for i, d in enumerate(deltas) if isinstance(d, str))
    assert all(isinstance(d, ReasoningDelta) for d in deltas[:first_text])  # thinking comes first
    assert c.usage.completion_tokens == 12 + 6 and c.usage.reasoning_tokens > 0


@pytest.mark.parametrize("fmt, charged, reasoning", [("hidden", 6 + 12, 12), ("total_only", 6 + 12, 12)])
@pytest.mark.parametrize("transport", ["http", "openai", "litellm"])
def test_thinking_the_provider_never_shows_is_charged(fmt, charged, reasoning, transport):
    with StubServer(default=_reply(fmt)) as srv:
        llm = LLM("openai/stub", api_base=srv.url, api_key="none", transport=transport)
        budget = Budget(tokens=10_000).meter().child()
        [c] = llm.generate("q", budget=budget)
    assert c.reasoning is None and c.text.endswith("The answer is 12.")
    assert c.usage.completion_tokens == charged and c.usage.reasoning_tokens == reasoning
    assert budget.used.completion_tokens == charged


def test_anthropic_thinking_blocks_through_litellm():
    with StubServer(default=_reply("anthropic")) as srv:
        llm = LLM("anthropic/claude-sonnet-4-20250514", api_base=srv.url.removesuffix("/v1"), api_key="sk-ant-test")
        [c] = llm.generate("q", thinking_tokens=2048)
        sent = srv.requests[-1]
    assert c.text == "**12 sheep**. The answer is 12." and c.reasoning.startswith("Pens: so the answer is 10.")
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert sent["max_tokens"] == 512 + 2048  # room for the thinking plus the answer
    assert c.usage.completion_tokens == 12 + 6


def test_a_thinking_limit_is_mapped_per_provider():
    assert provider_fields({"thinking_tokens": 0}, "anthropic/claude-x", None) == {"thinking": {"type": "disabled"}}
    assert provider_fields({"thinking_tokens": 500}, "openai/o4-mini", None) == {"reasoning_effort": "low"}
    assert provider_fields({"thinking_tokens": 20000, "reasoning_effort": "medium"}, "openai/o3", None) == {
        "reasoning_effort": "medium"}
    assert provider_fields({"thinking_tokens": 0}, "openai/qwen3", "http://127.0.0.1:1/v1") == {
        "extra_body": {"chat_template_kwargs": {"enable_thinking": False}}}
    assert provider_fields({"max_tokens": 9}, "openai/gpt-4o", None) == {"max_tokens": 9}


@pytest.mark.parametrize("transport", ["http", "openai", "litellm"])
def test_a_server_gets_the_thinking_switch_and_room_for_thinking(transport):
    with StubServer(default=_reply("reasoning_content")) as srv:
        llm = LLM("openai/stub", api_base=srv.url, api_key="none", transport=transport)
        llm.generate("q", thinking_tokens=1000)
        sent = srv.requests[-1]
        assert sent["chat_template_kwargs"] == {"enable_thinking": True} and "thinking_tokens" not in sent
        assert sent["max_tokens"] == 512 + 1000
        llm.generate("q2")  # the model is now known to think: the default makes room for it
        assert srv.requests[-1]["max_tokens"] > 512
        llm.generate("q3", max_tokens=100)  # an explicit max_tokens is the caller's
        assert srv.requests[-1]["max_tokens"] == 100


def test_a_model_known_to_think_gets_room_within_the_budget():
    llm = FakeLLM(["<think>x</think>The answer is 1."],
                  capabilities=Capabilities(n=False, logprobs=True, prompt_logprobs=True, seed=True, thinks=True))
    llm.generate("q")
    assert llm.requests[-1].max_tokens == 512 + 4096
    llm.generate("q", budget=Budget(tokens=700))
    assert llm.requests[-1].max_tokens <= 700


# -- traces, analysis ---------------------------------------------------------------------------------

def test_the_trace_keeps_the_thinking_and_analysis_says_which_part_it_read():
    result = ChainOfThought().run(SHEEP, llm=FakeLLM([f"<think>{DRAFT}</think>\n\nThe answer is 12."]))
    [reply] = _responses(result.trace)
    assert reply["text"] == "The answer is 12." and reply["reasoning"] == DRAFT and reply["reasoning_tokens"] > 0
    parts = dict(rationales(result.trace))
    assert parts["cot" + REASONING_MARK] == DRAFT and parts["cot"] == "The answer is 12."
    assert dict(rationales(result))["cot" + REASONING_MARK] == DRAFT


def _responses(node: dict) -> list[dict]:
    out = list((node.get("attrs") or {}).get("response") or []) if node.get("kind") == "llm" else []
    for child in node.get("children") or []:
        out += _responses(child)
    return out


def test_analyze_classifies_thinking_and_final_text_apart():
    from reasoners.bench.analyze import analyze_rows
    from reasoners.bench.behaviors import LexicalClassifier

    rows = [{"strategy": "cot", "budget": None, "problem_id": "p", "correct": True,
             "samples": [{"text": "The answer is 12.", "answer": "12", "correct": True,
                          "reasoning": "Let me verify: 3 * 4 = 12. Wait, that is wrong, let me redo it."}]}]
    [cell] = asyncio.run(analyze_rows(rows, LexicalClassifier()))
    [sample] = cell["samples"]
    assert sample["read"] == "reasoning+final"
    assert sample["parts"]["reasoning"]["verification"] >= 1 and sample["parts"]["final"]["verification"] == 0
    assert {e["part"] for e in sample["evidence"]} == {"reasoning"}


# -- the server ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def serving(stub: StubServer) -> Iterator[str]:
    argv = [sys.executable, "-m", "reasoners.cli", "serve", "--model", "openai/stub", "--api-base", stub.url,
            "--port", "{port}"]
    with running_server(argv, seconds=60) as url:
        yield url


@pytest.mark.slow
def test_the_server_sends_reasoning_content_apart_whole_and_streamed():
    with StubServer(default=_reply("inline")) as stub, serving(stub) as url:
        client = openai.OpenAI(base_url=url, api_key="unused")
        whole = client.chat.completions.create(
            model="sc(n=3)@openai/stub", messages=[{"role": "user", "content": SHEEP}],
            extra_body={"reasoners": {"kind": "number", "thinking_tokens": 800}})
        message = whole.choices[0].message
        assert message.content == "**12 sheep**. The answer is 12."
        assert message.model_extra["reasoning_content"].startswith("Pens: so the answer is 10.")
        assert whole.model_extra["reasoners"]["answer"] == "12"
        assert stub.requests[-1]["chat_template_kwargs"] == {"enable_thinking": True}

        chunks = list(client.chat.completions.create(
            model="openai/stub", messages=[{"role": "user", "content": SHEEP}], stream=True))
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        thinking = [d.model_extra.get("reasoning_content") for d in deltas if d.model_extra.get("reasoning_content")]
        content = "".join(d.content or "" for d in deltas)
        assert "".join(thinking).strip().startswith("Pens: so the answer is 10.")
        assert content == "**12 sheep**. The answer is 12."
        first_content = next(i for i, d in enumerate(deltas) if d.content)
        assert all(not d.model_extra.get("reasoning_content") for d in deltas[first_content:])

        bad = httpx.post(f"{url}/chat/completions", json={"model": "openai/stub", "messages": [
            {"role": "user", "content": "q"}], "reasoners": {"thinking_tokens": -1}})
        assert bad.status_code == 400 and "thinking_tokens" in bad.json()["error"]["message"]


@pytest.mark.slow
def test_langchain_reads_the_answer_not_the_thinking():
    from langchain_openai import ChatOpenAI

    with StubServer(default=_reply("reasoning_content")) as stub, serving(stub) as url:
        chat = ChatOpenAI(base_url=url, api_key="unused", model="sc(n=2)@openai/stub")
        assert chat.invoke(SHEEP).content == "**12 sheep**. The answer is 12."


def test_a_cached_reply_stored_before_thinking_was_separated_is_split_on_replay(tmp_path):
    import sqlite3

    from reasoners import Cache

    path = tmp_path / "c.sqlite"
    FakeLLM([f"<think>{DRAFT}</think>The answer is 12."], cache=Cache(path)).generate("q")
    with sqlite3.connect(path) as conn:  # rewrite the entry as the old code stored it: raw text, no reasoning
        [(key, value)] = conn.execute("SELECT key, value FROM entries").fetchall()
        raw = json.loads(value)
        raw["text"], raw["reasoning"] = f"<think>{DRAFT}</think>The answer is 12.", None
        conn.execute("UPDATE entries SET value=? WHERE key=?", (json.dumps(raw), key))
    [again] = FakeLLM(["unused"], cache=Cache(path)).generate("q")
    assert again.cached and again.text == "The answer is 12." and again.reasoning == DRAFT
