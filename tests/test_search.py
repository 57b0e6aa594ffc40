"""Backtracking search and linear backtracking on arithmetic puzzles, with a scripted model."""

from __future__ import annotations

import json
from fractions import Fraction

from reasoners import BacktrackSearch, Budget, LinearBacktrack, Problem
from reasoners.domains.puzzles import Arithmetic, Sudoku, parse_steps
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
    budget = Budget(calls=2).meter()
    result = BacktrackSearch(proposals=3).run(PUZZLE, llm=llm, budget=budget)
    assert result.exhausted and result.answer is None
    assert result.metadata["expansions"] == 2 and budget.used.calls == 2
    assert result.metadata["best_state"] in ("10 13 13", "9 13 6", "10 0", "13 23")


def test_state_rules_are_exact():
    puzzle = Arithmetic([3, 3, 8, 8], 24)
    s = puzzle.start().apply(Fraction(8), "/", Fraction(3), Fraction(8, 3))
    s = s.apply(Fraction(3), "-", Fraction(8, 3), Fraction(1, 3))
    s = s.apply(Fraction(8), "/", Fraction(1, 3), Fraction(24))
    assert s is not None and puzzle.solved(s) and puzzle.answer(s) == "(8 / (3 - (8 / 3)))"
    start = Arithmetic([1, 2], 24).start()
    assert start.apply(Fraction(1), "+", Fraction(2), Fraction(4)) is None  # wrong arithmetic
    assert start.apply(Fraction(5), "+", Fraction(2), Fraction(7)) is None  # 5 is not available
    assert start.apply(Fraction(1), "/", Fraction(0), Fraction(0)) is None
    assert parse_steps("3 × 8 = 24 and 3 × 8 = 24, 1/2 + 1/2 = 1") == [
        (Fraction(3), "*", Fraction(8), Fraction(24)), (Fraction(1, 2), "+", Fraction(1, 2), Fraction(1))]
    assert parse_steps(r"1. **\(90 \div 45 = 2\)**") == [(Fraction(90), "/", Fraction(45), Fraction(2))]
    assert len(parse_steps(r"3 + 5 = 8, then \boxed{8 * 3 = 24}")) == 2  # a box does not hide the steps before it


def test_the_final_expression_is_read_through_latex():
    puzzle = Arithmetic([4, 9, 10, 13], 24)
    for text in (r"The answer is: \(\boxed{(10 - 4) \times (13 - 9)}\).",
                 "The answer is:\n\n\\[\n(10 - 4) \\times (13 - 9)\n\\]",
                 "The answer is: `(10 - 4) * (13 - 9)`"):
        answer = puzzle.parse_final(text)
        assert answer == "(10 - 4) * (13 - 9)" and puzzle.check(answer), text
    assert puzzle.parse_final("The answer is: \\(\\boxed{24 = 4 \\times 6}\\)") == "24 = 4 * 6"
    assert not puzzle.check("24 = 4 * 6")


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


# -- Sudoku ----------------------------------------------------------------------------------

SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
BLANKS = {5, 39, 60, 75, 78}  # filling r9c7 (cell 78) with 2 leaves r9c4 with no legal digit
GRID = [[0 if r * 9 + c in BLANKS else int(SOLUTION[r * 9 + c]) for c in range(9)] for r in range(9)]
SUDOKU = Problem("Solve the Sudoku.", kind="text", metadata={"puzzle": GRID})


def _grid_in(prompt: str) -> str:
    return "".join(ch for ch in prompt.split("numbered 1-9):\n")[1].split("\nFill")[0] if ch in "_123456789")


def sudoku_script(req):
    grid = _grid_in(req.prompt)
    if grid.count("_") == len(BLANKS):  # the start: a legal move into a dead end first, then the right one
        return "r9c7 = 2\nr9c7 = 1\nr1c1 = 9\nr1c6 = 5"  # r1c1 is not empty; r1c6 = 5 repeats a digit
    i = grid.index("_")
    return f"r{i // 9 + 1}c{i % 9 + 1} = {SOLUTION[i]}"


def test_sudoku_rules():
    puzzle = Sudoku(GRID)
    start = puzzle.start()
    assert puzzle.legal(start, 78) == {1, 2} and puzzle.legal(start, 5) == {8}
    children = puzzle.children(start, "r9c7 = 2, R9C7: 1, r1c1 = 9, r1c6 = 5, r1c6 = 8")
    assert [step for step, _ in children] == ["r9c7 = 2", "r9c7 = 1", "r1c6 = 8"]
    assert puzzle.dead(children[0][1]) and not puzzle.dead(children[1][1])
    assert puzzle.distance(start) == 5 and not puzzle.solved(start)
    full = "\n".join(" ".join(SOLUTION[r * 9:(r + 1) * 9]) for r in range(9))
    assert puzzle.check(full) and puzzle.parse_final("Done. The answer is:\n" + full) == full
    broken = full.replace("5 3 4", "3 5 4", 1)
    assert not puzzle.check(broken)


def test_search_solves_sudoku_pruning_the_dead_move():
    llm = FakeLLM(sudoku_script)
    result = BacktrackSearch(proposals=4).run(SUDOKU, llm=llm)
    assert result.confidence == 1.0 and Sudoku(GRID).check(result.answer)
    tree = next(n for n in _walk(result.trace) if n["kind"] == "search")["attrs"]["tree"]
    dead = [n for n in tree["nodes"] if n.get("dead")]
    assert [n["step"] for n in dead] == ["r9c7 = 2"]  # the dead end is never expanded
    assert result.metadata["expansions"] == len(BLANKS) and len(llm.requests) == len(BLANKS)


def test_sudoku_expansions_scale_with_the_blanks():
    sixty = set(range(60))  # 60 blanks: a solution takes 60 steps, more than a flat 50 expansions allow
    grid = [[0 if r * 9 + c in sixty else int(SOLUTION[r * 9 + c]) for c in range(9)] for r in range(9)]
    llm = FakeLLM(lambda req: (lambda g: f"r{g.index('_') // 9 + 1}c{g.index('_') % 9 + 1} = "
                                          f"{SOLUTION[g.index('_')]}")(_grid_in(req.prompt)))
    result = BacktrackSearch(proposals=1).run(Problem("Solve.", kind="text", metadata={"puzzle": grid}), llm=llm)
    assert result.confidence == 1.0 and result.metadata["expansions"] == 60
    node = next(n for n in _walk(result.trace) if n["kind"] == "search")
    assert node["attrs"]["max_expansions"] == 240
    assert next(n for n in _walk(BacktrackSearch(max_expansions=7).run(SUDOKU, llm=FakeLLM(sudoku_script)).trace)
                if n["kind"] == "search")["attrs"]["max_expansions"] == 7


def test_best_of_n_with_the_checker_picks_the_valid_attempt():
    from reasoners import BestOfN
    from reasoners.strategies.scorers import PuzzleChecker

    attempts = ["The answer is: 4 * 6", "The answer is: (10 - 4) * (13 - 9)", "The answer is: 24"]
    llm = FakeLLM(attempts)  # scripted by sample seed
    bon = BestOfN(LinearBacktrack(backtrack=False), n=3, scorer=PuzzleChecker())
    result = bon.run(PUZZLE, llm=llm)
    assert result.answer == "(10 - 4) * (13 - 9)"
    assert sorted(c.score for c in result.candidates) == [0.0, 0.0, 1.0]
    assert "each exactly once" in llm.requests[0].prompt and "backtrack" not in llm.requests[0].prompt


def test_checker_refuses_a_problem_that_is_not_a_puzzle():
    import pytest

    from reasoners import BestOfN, ConfigError
    from reasoners.strategies.scorers import PuzzleChecker

    with pytest.raises(ConfigError, match="puzzle"):
        BestOfN(n=2, scorer=PuzzleChecker()).run("What is 2 + 2?", llm=FakeLLM(["The answer is 4."]))


def test_a_node_without_valid_steps_is_asked_again_before_it_is_dead():
    replies = iter(["no idea", "4 * 6 = 24"])
    problem = Problem("Make 24.", kind="text", metadata={"numbers": [4, 6]})
    llm = FakeLLM(lambda req: next(replies))
    assert BacktrackSearch(retries=1).run(problem, llm=llm).answer == "(4 * 6)"
    assert len({r.seed for r in llm.requests}) == 2  # the retry is a fresh sample
    never = FakeLLM(lambda req: "no idea")
    result = BacktrackSearch(retries=2).run(problem, llm=never)
    assert result.answer is None and len(never.requests) == 3 and not result.exhausted
