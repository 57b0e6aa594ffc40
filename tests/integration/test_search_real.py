"""Backtracking search and linear backtracking on real Game of 24 puzzles with the embedded model."""

from __future__ import annotations

from reasoners import BacktrackSearch, Budget, LinearBacktrack
from reasoners.bench.tasks import load_task


def test_search_on_game24_within_budget(local_llm):
    task = load_task("game24", limit=2)
    for problem in task.problems:
        budget = Budget(tokens=2500).meter()
        result = BacktrackSearch(proposals=3, max_tokens=64, max_expansions=8).run(problem, llm=local_llm, budget=budget)
        assert budget.used.total_tokens <= 2500
        assert result.usage.calls == result.metadata["expansions"] or result.exhausted
        assert (result.answer is None) or task.score(problem, result.answer)  # a claimed solution is a real one


def test_linear_on_game24(local_llm):
    task = load_task("game24", limit=1)
    result = LinearBacktrack(max_tokens=200).run(task.problems[0], llm=local_llm, budget=Budget(tokens=600))
    assert result.usage.calls == 1
    assert (result.answer is None) == (result.confidence == 0.0)


def _search_tree(node):
    if node.get("kind") == "search":
        return node["attrs"]["tree"]
    for child in node.get("children", []):
        if (found := _search_tree(child)) is not None:
            return found
    return None


def test_search_on_sudoku_within_budget(local_llm):
    from reasoners.domains.puzzles import Sudoku

    task = load_task("sudoku(min_empty=2,max_empty=3)", limit=1)
    problem = task.problems[0]
    budget = Budget(tokens=1500).meter()
    result = BacktrackSearch(proposals=3, max_tokens=48, max_expansions=6).run(problem, llm=local_llm, budget=budget)
    assert budget.used.total_tokens <= 1500
    puzzle = Sudoku(problem.metadata["puzzle"])
    tree = _search_tree(result.trace)
    assert tree["nodes"][0]["state"] == puzzle.describe(puzzle.start())
    assert result.metadata["expansions"] == result.usage.calls  # one model call per expansion
    assert (result.answer is None) or task.score(problem, result.answer)


def test_best_of_n_with_checker_on_countdown(local_llm):
    from reasoners import BestOfN
    from reasoners.strategies.scorers import PuzzleChecker

    task = load_task("countdown(min_numbers=3,max_numbers=3,min_target=10,max_target=50)", limit=1)
    budget = Budget(tokens=900).meter()
    bon = BestOfN(LinearBacktrack(backtrack=False, max_tokens=150), n=3, scorer=PuzzleChecker())
    result = bon.run(task.problems[0], llm=local_llm, budget=budget)
    assert budget.used.total_tokens <= 900 and 1 <= result.usage.calls <= 3
    assert all(c.score in (0.0, 1.0) for c in result.candidates)
    assert (result.answer is None) == all(c.score == 0.0 for c in result.candidates)


def test_a_live_latex_answer_is_read_through_to_its_arithmetic(local_llm):
    """The checker reads an expression as a model writes it in LaTeX (Qwen wrote 2 of its 3
    Countdown finals as ``\\(\\boxed{... \\times ...}\\)``): the embedded model, shown one example,
    answers in that shape, and the exact check accepts what it wrote."""
    from reasoners.domains.puzzles import Arithmetic

    prompt = ("Write each sum in LaTeX.\nQ: 2 times 6 minus 1\nA: \\(\\boxed{2 \\times 6 - 1}\\)\n"
              "Q: 7 times 8 minus 9\nA:")
    reply = local_llm.generate(prompt, temperature=0.0, max_tokens=40)[0].text
    assert "\\boxed" in reply and "\\times" in reply, reply  # the shape this test is about
    assert Arithmetic([7, 8, 9], target=47).check(reply)
    assert not Arithmetic([7, 8, 9], target=47).check(reply.replace("-", "+"))  # the value is read, not the look
