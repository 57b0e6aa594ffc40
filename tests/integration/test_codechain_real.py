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


def test_the_program_read_from_a_live_reply_is_the_block_that_defines_it(local_llm):
    """The embedded model, asked for a function and then an example, answers in two fenced
    blocks, the second only calling the first (Qwen2.5-Coder's usual shape on MBPP). The program
    tested is the defining block: the usage block alone would fail every test."""
    import re

    from reasoners.answers import extract_code
    from reasoners.sandbox import Sandbox

    prompt = ("Write a Python function square(x) returning x*x. Put the function in a python code block, "
              "then give a separate python code block with an example usage.")
    reply = local_llm.generate(prompt, temperature=0.0, max_tokens=200)[0].text
    blocks = re.findall(r"```[\w+-]*[ \t]*\n(.*?)```", reply, re.DOTALL)
    assert len(blocks) >= 2 and "def square" not in blocks[-1], reply  # the shape this test is about
    program = extract_code(reply)
    assert program is not None and "def square" in program
    tests = ["assert square(7) == 49", "assert square(-3) == 9"]
    assert Sandbox(timeout=10).run(program, tests).passed
    assert not Sandbox(timeout=10).run(blocks[-1], tests).passed  # the last block, read as before the fix
