"""The Strategy contract on ChainOfThought with the fake: answers, anytime budgets, usage roll-up, JSON."""

from __future__ import annotations

import asyncio
import json

import pytest

from reasoners import Budget, ChainOfThought, ConfigError, Demo, Problem, Result
from reasoners.testing import FakeLLM


def test_cot_extracts_the_answer_and_accounts_usage():
    llm = FakeLLM(["3 + 4 = 7. The answer is 7."])
    result = ChainOfThought().run("What is 3 + 4?", llm=llm)
    assert result.answer == "7"
    assert result.strategy == "cot"
    assert 0 < result.confidence <= 1
    assert result.usage.calls == 1
    prompt = llm.requests[0].prompt
    assert "What is 3 + 4?" in prompt and "step by step" in prompt and "The answer is" in prompt


def test_usage_equals_sum_of_traced_calls():
    llm = FakeLLM(["The answer is 1."])
    result = ChainOfThought().run("q?", llm=llm)
    calls = []

    def walk(node):
        if node["kind"] in ("llm", "score"):
            calls.append(node["usage"])
        for c in node.get("children", []):
            walk(c)

    walk(result.trace)
    assert sum(c["total_tokens"] for c in calls) == result.usage.total_tokens
    assert len(calls) == result.usage.calls


def test_few_shot_demos_become_turns():
    llm = FakeLLM(["The answer is 2."])
    demo = Demo("What is 1 + 1?", "1 plus 1 is 2.", "2")
    ChainOfThought(demos=[demo]).run("What is 5 - 3?", llm=llm)
    msgs = llm.requests[0].messages
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["content"] == "1 plus 1 is 2. The answer is 2."


def test_choice_problem_lists_options():
    llm = FakeLLM(["Birds fly. The answer is (B)."])
    p = Problem("Which can fly?", kind="choice", choices=["dog", "bird"])
    result = ChainOfThought().run(p, llm=llm)
    assert result.answer == "B"
    assert "(A) dog" in llm.requests[0].prompt and "(B) bird" in llm.requests[0].prompt


def test_exhausted_budget_returns_instead_of_raising():
    llm = FakeLLM(["The answer is 1."])
    result = ChainOfThought().run("What is the number?", llm=llm, budget=Budget(tokens=3))
    assert result.exhausted and result.answer is None
    assert result.usage.calls == 0 and llm.requests == []


def test_budget_clamps_the_generation():
    llm = FakeLLM(["one two three four five six seven eight nine ten The answer is 3."])
    budget = Budget(tokens=32).meter()
    result = ChainOfThought().run("q?", llm=llm, budget=budget)
    assert budget.used.total_tokens <= 32
    assert result.candidates[0].metadata["finish_reason"] == "length"


def test_result_json_round_trip():
    llm = FakeLLM(["The answer is 12."])
    result = ChainOfThought().run("q?", llm=llm)
    back = Result.from_dict(json.loads(result.to_json()))
    assert back.answer == "12" and back.usage == result.usage
    assert back.candidates[0].text == result.candidates[0].text


def test_one_strategy_serves_concurrent_runs():
    llm = FakeLLM(lambda req: f"The answer is {req.prompt.split()[2]}.")
    cot = ChainOfThought()

    async def both():
        return await asyncio.gather(*(cot.arun(f"Number is {i} ok", llm=llm) for i in range(5)))

    results = asyncio.run(both())
    assert [r.answer for r in results] == [str(i) for i in range(5)]


def test_bad_inputs_are_named():
    with pytest.raises(ConfigError, match="question"):
        Problem("  ")
    with pytest.raises(ConfigError, match="kind"):
        Problem("q", kind="poem")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="choices"):
        Problem("q", kind="choice")
    with pytest.raises(ConfigError, match="llm"):
        ChainOfThought().run("q", llm="gpt-4")  # type: ignore[arg-type]
