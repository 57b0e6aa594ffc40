"""CodeChain on the fake: public tests in the sandbox, sub-module extraction, clustering, revision rounds."""

from __future__ import annotations

import pytest

from reasoners import CodeChain, ConfigError, Problem
from reasoners.bench.tasks import load_task
from reasoners.embedding.embedders import Embedder
from reasoners.domains.code import public_tests_from_docstring
from reasoners.strategies.codechain import extract_functions
from reasoners.testing import FakeLLM

PROMPT = 'def double_all(xs):\n    """Double each number.\n    >>> double_all([1, 2])\n    [2, 4]\n    """\n'
PROBLEM = Problem(PROMPT, kind="code", metadata={"entry_point": "double_all"})

GOOD_A = "```python\ndef double(x):\n    return 2 * x\n\ndef double_all(xs):\n    return [double(x) for x in xs]\n```"
GOOD_B = "```python\ndef twice(v):\n    return v + v\n\ndef double_all(xs):\n    return list(map(twice, xs))\n```"
BAD = "```python\ndef double_all(xs):\n    return xs\n```"


def test_extract_functions_and_docstring_tests():
    assert extract_functions(GOOD_A.strip("`").replace("python\n", "", 1)) == [
        "def double(x):\n    return 2 * x",
        "def double_all(xs):\n    return [double(x) for x in xs]",
    ]
    assert extract_functions("def broken(:") == []
    assert public_tests_from_docstring(PROMPT, "double_all") == ["assert (double_all([1, 2])) == ([2, 4])"]
    he = load_task("humaneval", limit=1).problems[0]
    tests = public_tests_from_docstring(he.question, "has_close_elements")
    assert len(tests) == 2 and all(t.startswith("assert (has_close_elements(") for t in tests)


class OneCluster(Embedder):
    async def aembed(self, texts):
        import numpy as np

        # "double"-style helpers near 0, entry points far away: k=2 splits them
        return np.array([[0.0, 0.0] if "double_all" not in t else [10.0, 0.0] for t in texts])


@pytest.mark.slow
def test_rounds_filter_cluster_and_revise():
    def reply(req):
        if "sub-modules from earlier good solutions" in req.prompt:
            return GOOD_A
        return [GOOD_A, BAD, GOOD_B][(req.seed or 0) % 3]

    llm = FakeLLM(reply)
    chain = CodeChain(n=3, rounds=1, clusters=2, shrink=1, embedder=OneCluster())
    result = chain.run(PROBLEM, llm=llm)
    rounds = result.metadata["rounds"]
    assert [r["passed"] for r in rounds] == [2, 3]
    assert rounds[0]["k"] == 2 and rounds[1]["k"] == 1  # clusters shrink each round
    reps = rounds[0]["representatives"]
    assert len(reps) == 2 and any(r.startswith("def double(") or r.startswith("def twice(") for r in reps)
    revision_prompts = [r.prompt for r in llm.requests if "sub-modules" in r.prompt]
    assert len(revision_prompts) == 3 and all(reps[0] in p for p in revision_prompts)
    assert "double_all" in result.answer and result.candidates[0].metadata["public_passed"]
    assert result.confidence == 1.0


@pytest.mark.slow
def test_round_without_passing_keeps_previous_modules():
    def reply(req):
        if "sub-modules" in req.prompt:
            return BAD
        return GOOD_A

    llm = FakeLLM(reply)
    result = CodeChain(n=2, rounds=2, clusters=2).run(PROBLEM, llm=llm)
    rounds = result.metadata["rounds"]
    assert [r["passed"] for r in rounds] == [2, 0, 0]
    assert rounds[2]["representatives"] == rounds[0]["representatives"]
    assert result.candidates[0].metadata["round"] == 0  # the answer is the last passing set's


def test_needs_a_code_problem():
    with pytest.raises(ConfigError, match="code"):
        CodeChain(n=1).run("What is 2 + 2?", llm=FakeLLM(["x"]))


def test_public_tests_scorer_ranks_by_share_passed_in_the_sandbox():
    from reasoners import BestOfN, ConfigError, Problem
    from reasoners.strategies.scorers import PublicTests

    problem = Problem("Double a number.\nYour code should pass this test:\nassert double(2) == 4", kind="code",
                      tests=["assert double(2) == 4", "assert double(5) == 10"],
                      metadata={"public_tests": ["assert double(2) == 4", "assert double(0) == 0"]})
    samples = ["```python\ndef double(x):\n    return 4\n```",       # passes 1 of 2 public tests
               "```python\ndef double(x):\n    return x * 2\n```",   # passes both
               "no code at all"]
    llm = FakeLLM(samples)
    result = BestOfN(n=3, scorer=PublicTests()).run(problem, llm=llm)
    assert "return x * 2" in result.answer
    assert [c.score for c in result.candidates] == [1.0, 0.5, 0.0]
    with pytest.raises(ConfigError, match="needs a code problem"):
        BestOfN(n=1, scorer=PublicTests()).run(Problem("What is 2 + 2?", kind="number"), llm=FakeLLM(["4"]))


def test_public_tests_scorer_without_tests_leaves_the_pick_to_the_vote():
    """A code problem that shows no tests (HumanEval/38) is not an error: nothing is run, every
    candidate is unscored, and best-of-N picks the program most samples agree on."""
    from reasoners import BestOfN, Problem
    from reasoners.strategies.scorers import PublicTests

    problem = Problem("def decode(s):\n    \"\"\"Reverse s.\"\"\"\n", kind="code", tests=["assert decode('ab') == 'ba'"],
                      metadata={"entry_point": "decode"})
    lone = "```python\ndef decode(s):\n    return s\n```"
    agreed = "```python\ndef decode(s):\n    return s[::-1]\n```"
    result = BestOfN(n=3, scorer=PublicTests()).run(problem, llm=FakeLLM([lone, agreed, agreed]))
    assert "s[::-1]" in result.answer
    assert [c.score for c in result.candidates] == [None, None, None]


PLANNED = (
    "Plan:\n```python\ndef double(x):\n    \"\"\"Twice x.\"\"\"\n```\n"
    "Implementation:\n```python\ndef double(x):\n    return 2 * x\n\ndef unplanned(x):\n    return x\n\n"
    "def double_all(xs):\n    return [double(unplanned(x)) for x in xs]\n```"
)


def test_sub_modules_are_the_planned_helpers_without_the_entry_point():
    from reasoners.answers import extract_code
    from reasoners.strategies.codechain import sub_modules, tested_functions

    solution = tested_functions(PROBLEM, [])
    assert solution == {"double_all"}
    assert sub_modules(PLANNED, extract_code(PLANNED), solution) == ["def double(x):\n    return 2 * x"]
    # no plan of its own: every function but the one the tests call
    assert sub_modules(GOOD_A, extract_code(GOOD_A), solution) == ["def double(x):\n    return 2 * x"]


def test_mbpp_function_named_by_the_public_test_is_not_a_sub_module():
    from reasoners.strategies.codechain import tested_functions

    problem = Problem("Write a function to double a list.", kind="code",
                      metadata={"public_tests": ["assert double_all([1, 2]) == [2, 4]"]})
    assert "double_all" in tested_functions(problem, problem.metadata["public_tests"])

    llm = FakeLLM([GOOD_A])
    result = CodeChain(n=1, rounds=1, clusters=2).run(problem, llm=llm)
    assert result.metadata["rounds"][0]["representatives"] == ["def double(x):\n    return 2 * x"]
    revision = llm.requests[-1].prompt
    assert "def double_all" not in revision.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.slow
def test_round_with_nothing_passing_reclusters_at_the_new_k():
    def reply(req):
        return BAD if "sub-modules from earlier good solutions" in req.prompt else [GOOD_A, GOOD_B][(req.seed or 0) % 2]

    chain = CodeChain(n=2, rounds=2, clusters=3, shrink=1, embedder=OneCluster())
    rounds = chain.run(PROBLEM, llm=FakeLLM(reply)).metadata["rounds"]
    assert [r["passed"] for r in rounds] == [2, 0, 0]
    assert len(rounds[0]["representatives"]) == 2  # double and twice, k=3
    assert len(rounds[1]["representatives"]) == 2  # k=2
    assert len(rounds[2]["representatives"]) == 1  # nothing passed: the round-0 modules re-clustered at k=1


@pytest.mark.slow
def test_pass_at_1_over_all_samples_next_to_the_filtered_pick():
    problem = Problem(PROMPT, kind="code", metadata={"entry_point": "double_all"},
                      tests=["assert double_all([3]) == [6]"])
    llm = FakeLLM(lambda req: [GOOD_A, BAD, BAD, GOOD_B][(req.seed or 0) % 4])
    result = CodeChain(n=4, rounds=0).run(problem, llm=llm)
    assert result.metadata["pass_at_1"] == 0.5  # 2 of the round's 4 samples pass the hidden tests
    assert "double_all" in result.answer and result.candidates[0].metadata["hidden_passed"]
