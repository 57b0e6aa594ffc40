"""Answer extraction, normalisation and voting on real-looking model outputs."""

import pytest

from reasoners.answers import extract_answer, normalize, normalize_number, same_answer, vote

NUMBER_CASES = [
    ("Natalia sold 48/2 = 24 clips in May. 48 + 24 = 72. The answer is 72.", "72"),
    ("So she has 5 + 3 = 8 apples.\nThe answer is 8", "8"),
    ("The total cost is $1,250.00. The answer is $1,250.", "1250"),
    ("Therefore, the final answer is $\\boxed{18}$.", "18"),
    ("We get \\boxed{\\frac{3}{4}} as the probability.", "0.75"),
    ("Adding up gives 3 + 4 = 7.\n#### 7", "7"),
    ("Janet makes 16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars.", "18"),
    ("The answer is 42.0", "42"),
    ("The answer is -5.", "-5"),
    ("Answer: 3.50", "3.5"),
    ("The answer is 50%.", "50"),
    ("First 10, then 20. The answer is 30. Let me double check: 10 + 20 = 30.", "30"),
    ("The answer is 1,000,000.", "1000000"),
    ("So the result is 0.25. The answer is .25", "0.25"),
    ("He runs 3 sprints 3 times a week, 60 meters each: 3*3*60 = 540 meters. The answer is 540 meters.", "540"),
    ("The final answer is \\boxed{1,024}.", "1024"),
    ("The answer is: 12", "12"),
    ("**Answer:** 64", "64"),
    ("I think the answer is 7 but I am not sure; the answer is 9.", "9"),
    ("No numbers here at all.", None),
    ("There are 2 boxes with \\boxed{14} items", "14"),
    ("The answer is 3/4.", "0.75"),
    ("Total = 7 + 8 = 15 dollars.", "15"),
    ("The answer is \\$20.", "20"),
    ("So x = 2.", "2"),
    ("Step 1: 4 * 5 = 20\nStep 2: 20 - 2 = 18\nThe answer is 18.", "18"),
    ("the answer is 100", "100"),
]

CHOICE_CASES = [
    ("Birds can fly, so the answer is (B).", ["dogs", "birds", "fish"], "B"),
    ("The answer is C", ["a", "b", "c", "d"], "C"),
    ("Answer: (a)", ["x", "y"], "A"),
    ("I would pick (D) because it is largest.", ["1", "2", "3", "4"], "D"),
    ("After elimination, only Paris remains.", ["London", "Paris", "Rome"], "B"),
    ("\\boxed{B}", ["p", "q"], "B"),
    ("A. is wrong\nB. is right\nThe answer is B.", ["p", "q"], "B"),
]

TEXT_CASES = [
    ("Paris is the capital of France. The answer is Paris.", "Paris"),
    ("Thinking... The answer is George Washington. He was the first president.", "George Washington"),
    ("Line one\nFinal line: blue", "Final line: blue"),
    ("The answer is 3.5 meters.", "3.5 meters"),
]

CODE_CASES = [
    ("Here:\n```python\ndef f(x):\n    return x + 1\n```\nDone.", "def f(x):\n    return x + 1"),
    ("```\nprint(1)\n```\nand\n```python\nprint(2)\n```", "print(2)"),
    ("def g():\n    return 3", "def g():\n    return 3"),
    # the function, then a block that only uses it (MBPP/11 on Qwen2.5-Coder): the function is the answer
    ("```python\ndef f(s):\n    return s\n```\nTest it:\n```python\nassert f('a') == 'a'\n```", "def f(s):\n    return s"),
    ("```python\ndef f(x):\n    return 1\n```\nFixed:\n```python\ndef f(x):\n    return 2\n```\n```python\n"
     "print(f(1))\n```", "def f(x):\n    return 2"),                                # the last definition wins
    ("```python\ndef f(x):\n    return x\n```\n```python\ndef test_f():\n    assert f(1) == 1\n```",
     "def f(x):\n    return x"),                                                       # a test block is not the program
    ("```python\nimport math\n```\n```python\nprint(2)\n```", "print(2)"),            # nothing defined: the last
    ("Sorry, I cannot help.", None),
]


@pytest.mark.parametrize("text,expected", NUMBER_CASES)
def test_number_extraction(text, expected):
    assert extract_answer(text, "number") == expected


@pytest.mark.parametrize("text,choices,expected", CHOICE_CASES)
def test_choice_extraction(text, choices, expected):
    assert extract_answer(text, "choice", choices) == expected


@pytest.mark.parametrize("text,expected", TEXT_CASES)
def test_text_extraction(text, expected):
    assert extract_answer(text, "text") == expected


@pytest.mark.parametrize("text,expected", CODE_CASES)
def test_code_extraction(text, expected):
    assert extract_answer(text, "code") == expected


def test_table_is_large_enough():
    assert len(NUMBER_CASES) + len(CHOICE_CASES) + len(TEXT_CASES) + len(CODE_CASES) >= 40


@pytest.mark.parametrize(
    "a,b",
    [("1,000", "1000"), ("42.0", "42"), ("$5", "5"), ("7.", "7"), ("\\frac{1}{2}", "0.5"), ("-3.10", "-3.1")],
)
def test_number_normalisation(a, b):
    assert normalize_number(a) == normalize_number(b)
    assert same_answer(a, b)


def test_text_normalisation_ignores_case_articles_punctuation():
    assert normalize("The Eiffel Tower!", "text") == normalize("eiffel tower", "text")
    assert not same_answer("Paris", "Rome", "text")


def test_majority_vote_counts():
    v = vote(["18", "18.0", "20", None, "18"])
    assert v.winner == "18"
    assert v.counts == {"18": 3, "20": 1}
    assert v.share == pytest.approx(0.75)


def test_tie_broken_by_first_seen():
    assert vote(["5", "7", "7", "5"]).winner == "5"
    assert vote(["7", "5", "5", "7"]).winner == "7"


def test_weighted_vote_can_flip_majority():
    answers = ["10", "10", "12"]
    assert vote(answers).winner == "10"
    assert vote(answers, weights=[0.1, 0.1, 0.9]).winner == "12"


def test_empty_vote():
    v = vote([None, None])
    assert v.winner is None and v.share == 0.0
