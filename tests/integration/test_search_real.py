"""Backtracking search and linear backtracking on real Game of 24 puzzles with the embedded model."""

from __future__ import annotations

from reasoners import BacktrackSearch, Budget, LinearBacktrack
from reasoners.datasets import load_task


def test_search_on_game24_within_budget(local_llm):
    task = load_task("game24", limit=2)
    for problem in task.problems:
        budget = Budget(tokens=2500)
        result = BacktrackSearch(proposals=3, max_tokens=64, max_expansions=8).run(problem, llm=local_llm, budget=budget)
        assert budget.used.total_tokens <= 2500
        assert result.usage.calls == result.metadata["expansions"] or result.exhausted
        assert (result.answer is None) or task.score(problem, result.answer)  # a claimed solution is a real one


def test_linear_on_game24(local_llm):
    task = load_task("game24", limit=1)
    result = LinearBacktrack(max_tokens=200).run(task.problems[0], llm=local_llm, budget=Budget(tokens=600))
    assert result.usage.calls == 1
    assert (result.answer is None) == (result.confidence == 0.0)
