"""solve_batch on the embedded SmolLM2: one total over three questions, never exceeded, each answered."""

from __future__ import annotations

import asyncio

from reasoners import Budget, Problem, SelfConsistency, solve_batch


def test_adaptive_allocation_on_the_real_model(local_llm):
    problems = [Problem("What is 2 + 2?"), Problem("What is 3 + 5?"), Problem("What is 10 - 4?")]
    budget = Budget(tokens=3000).meter()
    strategy = SelfConsistency(n=6, base=SelfConsistency().base)
    results = asyncio.run(solve_batch(strategy, problems, llm=local_llm, budget=budget, first_wave=1))
    assert budget.used.total_tokens <= 3000
    assert sum(r.usage.total_tokens for r in results) == budget.used.total_tokens
    assert all(r.metadata["allocation"]["drawn"] >= 1 for r in results)
    assert all(r.metadata["allocation"]["stopped"] in ("settled", "cap", "budget") for r in results)
    assert sum(r.metadata["allocation"]["drawn"] for r in results) > len(problems)  # it spent past the first wave
