"""CodeChain on the fake: public tests in the sandbox, sub-module extraction, clustering, revision rounds."""

from __future__ import annotations

import pytest

from reasoners import CodeChain, ConfigError, Problem
from reasoners.datasets import load_task
from reasoners.embedders import Embedder
from reasoners.strategies.codechain import extract_functions, public_tests_from_docstring
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
