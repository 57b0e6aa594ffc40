"""Fault isolation on the embedded model: one sample's calls always fail, the run answers from the rest,
and a benchmark journals a problem whose every call fails as an error row while the others are answered."""

from __future__ import annotations

import asyncio
from typing import Any

from reasoners import LLM, Problem, RetryPolicy, SelfConsistency, ServerError
from reasoners.bench import BenchConfig, parse_strategies, run_bench, summarize
from reasoners.bench.tasks import Task
from reasoners.llm.local import load_local
from reasoners.llm import InProcessModel, RawCompletion


class Flaky(InProcessModel):
    """The real embedded model, except that requests matching ``fails`` raise a server error."""

    def __init__(self, fails: Any) -> None:
        self.model = load_local("smollm2")
        self.capabilities = self.model.capabilities
        self.fails = fails

    def count_tokens(self, messages):
        return self.model.count_tokens(messages)

    async def complete(self, messages, options) -> RawCompletion:
        if self.fails(messages, options):
            raise ServerError("injected: upstream down", status=503)
        return await self.model.complete(messages, options)

    async def score(self, prompt, continuation):
        return await self.model.score(prompt, continuation)


def flaky_llm(fails) -> LLM:
    return LLM("smollm2-flaky", transport=Flaky(fails), max_tokens=48, retry=RetryPolicy(attempts=2, initial_wait=0))


def test_self_consistency_answers_from_the_real_samples_that_succeeded():
    llm = flaky_llm(lambda messages, o: o.seed == 1)
    result = SelfConsistency(n=3).run("What is 2 + 3?", llm=llm)
    assert result.degraded and len(result.candidates) == 2
    assert [f["where"] for f in result.metadata["failed_samples"]] == ["sample 1"]
    assert all(c.text.strip() for c in result.candidates)  # real generations
    assert result.usage.calls == 2


def test_bench_journals_the_failing_problem_as_an_error_row(tmp_path):
    llm = flaky_llm(lambda messages, o: "seven" in messages[-1]["content"])
    problems = [Problem("What is two plus two?", gold="4", id="a"), Problem("What is seven plus one?", gold="8", id="b")]
    task = Task("toy", problems, lambda p, answer: answer == p.gold)
    rows = asyncio.run(run_bench(BenchConfig(task, parse_strategies("cot"), llm, tmp_path, [None])))
    by_id = {r["problem_id"]: r for r in rows}
    assert by_id["b"]["error"]["type"] == "ServerError" and "correct" not in by_id["b"]
    assert "error" not in by_id["a"] and by_id["a"]["usage"]["calls"] == 1
    [line] = summarize(rows)
    assert line["errors"] == 1 and line["problems"] == 1
