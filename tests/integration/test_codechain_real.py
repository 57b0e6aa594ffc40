"""CodeChain on a real HumanEval problem with the embedded model: public tests run in the sandbox."""

from __future__ import annotations

from reasoners import Budget, CodeChain
from reasoners.bench.tasks import load_task


def test_codechain_on_humaneval(local_llm):
    task = load_task("humaneval", limit=3)
    problem = task.problems[2]  # truncate_number: a one-liner
    budget = Budget(tokens=6000).meter()
    result = CodeChain(n=2, rounds=1, clusters=2, max_tokens=200).run(problem, llm=local_llm, budget=budget)
    assert budget.used.total_tokens <= 6000
    rounds = result.metadata["rounds"]
    assert result.metadata["public_tests"] >= 1
    assert [r["samples"] for r in rounds] == [2, 2] or result.exhausted
    for c in result.candidates:  # every sample was judged in the sandbox
        assert c.metadata["reason"] in ("ok", "failed", "crash", "timeout", "no code", "memory", "cpu")
    if any(r["passed"] for r in rounds):
        assert result.candidates[0].metadata["public_passed"]


def test_codechain_on_mbpp_uses_its_first_test_as_public(local_llm):
    task = load_task("mbpp", limit=1)
    problem = task.problems[0]
    budget = Budget(tokens=3000).meter()
    result = CodeChain(n=2, rounds=0, max_tokens=200).run(problem, llm=local_llm, budget=budget)
    assert budget.used.total_tokens <= 3000 and result.metadata["public_tests"] == 1
    for c in result.candidates:  # public verdict from the sandbox, hidden verdict from the task: both real runs
        assert c.metadata["reason"] in ("ok", "failed", "crash", "timeout", "no code", "memory", "cpu")
    if result.answer is not None and task.score(problem, result.answer):
        assert result.candidates[0].metadata["public_passed"]


def test_direct_sampling_filtered_by_public_tests_on_mbpp(local_llm):
    from reasoners import BestOfN
    from reasoners.strategies.scorers import PublicTests

    task = load_task("mbpp", limit=1)
    problem = task.problems[0]
    budget = Budget(tokens=2000).meter()
    result = BestOfN(n=2, scorer=PublicTests()).run(problem, llm=local_llm, budget=budget)
    assert budget.used.total_tokens <= 2000 and 1 <= result.usage.calls <= 2
    assert all(c.score in (0.0, 1.0) for c in result.candidates)  # one public test: passed or not, in the sandbox
    ranked = [c.score for c in result.candidates]
    assert ranked == sorted(ranked, reverse=True)
