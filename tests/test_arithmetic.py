"""Written arithmetic: the steps a rationale writes, read through the LaTeX models wrap them in."""

from __future__ import annotations

from fractions import Fraction

import pytest

from reasoners.answers.arithmetic import arithmetic_check, evaluate, plain_arithmetic, written_steps


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        (r"\frac{3}{4}", "(3)/(4)"),
        (r"\dfrac{3}{4}", "(3)/(4)"),
        (r"\tfrac{3}{4}", "(3)/(4)"),
        (r"\frac {3} {4}", "(3)/(4)"),  # spaces between the command and its arguments
        (r"\frac{1}{\frac{2}{3}}", "(1)/((2)/(3))"),  # nested: the inner fraction first
        (r"\frac{\frac{8}{2}}{\tfrac{1}{2}}", "((8)/(2))/((1)/(2))"),
        (r"3 \times 4 \cdot 2 \div 6", "3 * 4 * 2 / 6"),
        ("4 x 12", "4 * 12"),
    ],
)
def test_latex_is_read_as_python_arithmetic(text, plain):
    assert plain_arithmetic(text).strip() == plain


def test_a_nested_fraction_evaluates_exactly():
    assert evaluate(plain_arithmetic(r"\(\frac{1}{\tfrac{2}{3}} \times 4\)")) == Fraction(6)


def test_a_step_with_a_spaced_fraction_is_checked():
    (step,) = written_steps(r"So \(\tfrac {3}{4} \times 8 = 6\) apples.")
    assert step.value == Fraction(6) and step.holds
    (wrong,) = written_steps(r"So \(\tfrac {3}{4} \times 8 = 5\) apples.")
    assert wrong.value == Fraction(6) and not wrong.holds


def test_the_verifier_scores_steps_written_in_latex():
    good = r"She keeps \(\dfrac {1}{2} \times 16 = 8\) and sells \(16 - 8 = 8\)."
    bad = r"She keeps \(\dfrac {1}{2} \times 16 = 9\) and sells \(16 - 9 = 7\)."
    assert arithmetic_check("8", good) == 1.0
    assert arithmetic_check("7", bad) == 0.75  # a whole answer, and one of its two steps holds
    assert arithmetic_check(None, good) == 0.0
