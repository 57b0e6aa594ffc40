"""Backtracking search and linear backtracking on arithmetic puzzles, with a scripted model."""

from __future__ import annotations

import json
from fractions import Fraction

from reasoners import BacktrackSearch, Budget, LinearBacktrack, Problem
from reasoners.strategies.search import ArithmeticState, parse_steps
from reasoners.testing import FakeLLM

PUZZLE = Problem("Make 24 from 4 9 10 13.", kind="text", metadata={"numbers": [4, 9, 10, 13]})

SCRIPT = {
    "4 9 10 13": "4 + 9 = 14\n4 + 9 = 13\n10 - 4 = 6\n7 * 2 = 14",  # a wrong sum and unavailable numbers are rejected
    "10 13 13": "13 - 13 = 0\n10 + 13 = 23",
    "10 0": "10 + 0 = 10",
    "13 23": "23 - 13 = 10",
    "9 13 6": "13 - 9 = 4",
    "6 4": "6 * 4 = 24",
}


def scripted(req):
    numbers = req.prompt.split("Numbers: ")[1].split("\n")[0].strip()
    return SCRIPT.get(numbers, "no idea")


def test_search_backtracks_out_of_a_dead_branch():
    llm = FakeLLM(scripted)
    result = BacktrackSearch(proposals=3).run(PUZZLE, llm=llm)
    asked = [r.prompt.split("Numbers: ")[1].split("\n")[0] for r in llm.requests]
    # depth-first: the first proposal's subtree is explored and abandoned before the second
    assert asked == ["4 9 10 13", "10 13 13", "10 0", "13 23", "9 13 6", "6 4"]
    assert result.answer == "((10 - 4) * (13 - 9))" and result.confidence == 1.0
    tree = next(n for n in _walk(result.trace) if n["kind"] == "search")["attrs"]["tree"]
    dead = [n for n in tree["nodes"] if n.get("dead")]
    assert {n["state"] for n in dead} == {"10"}  # both dead ends were marked before backtracking


def _walk(node):
    yield node
    for c in node.get("children", []):
        yield from _walk(c)


def test_search_returns_best_state_when_budget_runs_out():
    llm = FakeLLM(scripted)
    budget = Budget(calls=2)
    result = BacktrackSearch(proposals=3).run(PUZZLE, llm=llm, budget=budget)
    assert result.exhausted and result.answer is None
    assert result.metadata["expansions"] == 2 and budget.used.calls == 2
    assert result.metadata["best_state"] in ("10 13 13", "9 13 6", "10 0", "13 23")


def test_state_rules_are_exact():
    s = ArithmeticState.start([3, 3, 8, 8], 24)
    s = s.apply(Fraction(8), "/", Fraction(3), Fraction(8, 3))
    s = s.apply(Fraction(3), "-", Fraction(8, 3), Fraction(1, 3))
    s = s.apply(Fraction(8), "/", Fraction(1, 3), Fraction(24))
    assert s is not None and s.solved and s.expressions[0] == "(8 / (3 - (8 / 3)))"
    start = ArithmeticState.start([1, 2], 24)
    assert start.apply(Fraction(1), "+", Fraction(2), Fraction(4)) is None  # wrong arithmetic
    assert start.apply(Fraction(5), "+", Fraction(2), Fraction(7)) is None  # 5 is not available
    assert start.apply(Fraction(1), "/", Fraction(0), Fraction(0)) is None
    assert parse_steps("3 × 8 = 24 and 3 × 8 = 24, 1/2 + 1/2 = 1") == [
        (Fraction(3), "×", Fraction(8), Fraction(24)), (Fraction(1, 2), "+", Fraction(1, 2), Fraction(1))]


def test_linear_backtracking_checks_the_final_expression():
    text = "Try 4 + 9 = 13... stuck, backtrack. Try 10 - 4 = 6, 13 - 9 = 4, 6 * 4 = 24. The answer is: (10 - 4) * (13 - 9)"
    result = LinearBacktrack().run(PUZZLE, llm=FakeLLM([text]))
    assert result.answer == "(10 - 4) * (13 - 9)" and result.candidates[0].metadata["backtracks"] == 1
    wrong = LinearBacktrack().run(PUZZLE, llm=FakeLLM(["The answer is: 4 * 6"]))
    assert wrong.answer is None and wrong.confidence == 0.0


def test_countdown_targets():
    p = Problem("Make 119.", kind="text", metadata={"numbers": [67, 50, 20, 82], "target": 119})
    llm = FakeLLM(["The answer is: 82 + 20 + 67 - 50"])
    assert LinearBacktrack().run(p, llm=llm).answer == "82 + 20 + 67 - 50"
    assert json.dumps(LinearBacktrack().run(p, llm=llm).to_dict())
