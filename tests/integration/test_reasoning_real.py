"""Reasoning models on real ones: the embedded SmolLM2 shown, by two worked turns, to think inside
``<think>`` tags; the same through ``reasoners serve`` with the openai client and LangChain; and
llama.cpp's own server with its reasoning parser in front of Qwen2.5-Coder-1.5B."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from reasoners import LLM, Budget, ChainOfThought, SelfConsistency
from reasoners.answers import extract_number
from reasoners.strategies.events import ReasoningText, TextDelta
from reasoners.testing import running_server

THINK = [
    {"role": "system", "content": "You think step by step inside <think> and </think> tags, then give the final "
                                  "answer after the closing tag as 'The answer is N.'"},
    {"role": "user", "content": "What is 2 + 3?"},
    {"role": "assistant", "content": "<think>\n2 plus 3 makes 5. Maybe 6? No: 2 + 3 = 5.\n</think>\n\n"
                                     "The answer is 5."},
    {"role": "user", "content": "What is 4 times 2?"},
    {"role": "assistant", "content": "<think>\n4 times 2 is 4 + 4 = 8.\n</think>\n\nThe answer is 8."},
]
TEMPLATE = Path(__file__).parents[1] / "data" / "chatml-thinking.jinja"  # ChatML that places thinking
QUESTION = "Tom has 3 apples and buys 4 more. How many apples does he have?"


def test_self_consistency_reads_answers_from_the_final_text_and_cut_off_samples_abstain(local_llm):
    sc = SelfConsistency(n=4, temperature=0.3, base=ChainOfThought(trigger="", max_tokens=80))
    result = sc.run(QUESTION, llm=local_llm, conversation=THINK, budget=Budget(tokens=8000))
    thought = [c for c in result.candidates if c.reasoning]
    assert len(thought) >= 2  # the model thinks inside the tags, and the thinking is kept apart
    for c in thought:
        assert "<think>" not in c.text and "</think>" not in c.text
        assert c.answer == extract_number(c.text)  # read from the final text alone
    starved = SelfConsistency(n=3, temperature=0.0, base=ChainOfThought(trigger="", max_tokens=6)).run(
        QUESTION, llm=local_llm, conversation=THINK)
    assert starved.abstained == 3 and starved.answer is None  # cut off while thinking: no votes
    assert starved.metadata["abstentions"] == {"starved": 3} and starved.metadata["tallies"] == {}
    assert all(c.reasoning and c.answer is None for c in starved.candidates)


def test_a_stream_sends_the_thinking_before_the_answer(local_llm):
    async def events() -> list:
        return [e async for e in ChainOfThought(trigger="", max_tokens=80).astream(
            QUESTION, llm=local_llm, conversation=THINK)]

    got = asyncio.run(events())
    kinds = [type(e).__name__ for e in got if isinstance(e, (ReasoningText, TextDelta))]
    assert "ReasoningText" in kinds and "TextDelta" in kinds
    assert kinds.index("TextDelta") > max(i for i, k in enumerate(kinds) if k == "ReasoningText")
    result = got[-1].result
    assert "".join(e.text for e in got if isinstance(e, TextDelta)) == result.candidates[0].text
    assert result.candidates[0].reasoning and "<think>" not in result.candidates[0].text


def test_the_server_returns_reasoning_content_apart_to_openai_and_langchain():
    from langchain_openai import ChatOpenAI

    argv = [sys.executable, "-m", "reasoners.cli", "serve", "--model", "local/smollm2", "--port", "{port}"]
    with running_server(argv, seconds=120) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", timeout=300)
        reply = client.chat.completions.create(
            model='sc(n=2,temperature=0.0,base=cot(trigger=""))@local/smollm2', messages=[*THINK, {"role": "user", "content": QUESTION}],
            max_tokens=80, extra_body={"reasoners": {"kind": "number"}})
        message = reply.choices[0].message
        assert message.model_extra.get("reasoning_content")
        assert "<think>" not in message.content and "</think>" not in message.content
        assert reply.model_extra["reasoners"]["answer"] == extract_number(message.content)
        chat = ChatOpenAI(base_url=url, api_key="unused", model='cot(trigger="")@local/smollm2', max_tokens=80)
        answer = chat.invoke([(m["role"], m["content"]) for m in THINK] + [("user", QUESTION)])
        assert answer.content.strip() and "<think>" not in answer.content and "</think>" not in answer.content


@pytest.fixture(scope="module")
def parser_server():
    """llama.cpp's own server (built by benchmarks/build_llama_server.sh, once; ``.ci/run`` builds it
    first) with its reasoning parser, serving the embedded SmolLM2 (``REASONERS_PARSER_MODEL`` may
    name another GGUF, such as Qwen2.5-Coder-1.5B's)."""
    from reasoners.llm.local import smollm2_path

    model = os.environ.get("REASONERS_PARSER_MODEL") or str(smollm2_path())
    binary = os.environ.get("REASONERS_LLAMA_SERVER") or subprocess.run(
        ["bash", str(Path(__file__).parents[2] / "benchmarks" / "build_llama_server.sh"), sys.executable],
        check=True, capture_output=True, text=True).stdout.strip()
    argv = [binary, "-m", model, "--host", "127.0.0.1", "--port", "{port}", "-c", "2048", "-np", "2",
            "--jinja", "--chat-template-file", str(TEMPLATE), "--reasoning-format", "deepseek", "--alias", "thinker"]
    with running_server(argv, seconds=300) as url:
        yield url


def test_llama_cpp_reasoning_parser(parser_server):
    llm = LLM("openai/thinker", api_base=parser_server, api_key="none")
    result = SelfConsistency(n=2, temperature=0.0, base=ChainOfThought(trigger="", max_tokens=96)).run(
        QUESTION, llm=llm, conversation=THINK, budget=Budget(tokens=6000))
    assert all(c.reasoning for c in result.candidates)  # sent in reasoning_content by the server's parser
    for c in result.candidates:
        assert "<think>" not in c.text and c.answer == extract_number(c.text)
    assert llm.capabilities.thinks is True
    raw = httpx.post(f"{parser_server}/chat/completions", timeout=120, json={
        "model": "thinker", "max_tokens": 96, "temperature": 0,
        "messages": [*THINK, {"role": "user", "content": QUESTION}]}).json()["choices"][0]["message"]
    # This llama.cpp build sends the thinking either in reasoning_content (its parser) or, with these
    # small models, left in the content without its opening tag (the reply starts inside the block):
    # either way the client above kept it apart.
    assert raw.get("reasoning_content") or ("</think>" in raw["content"] and "<think>" not in raw["content"])
