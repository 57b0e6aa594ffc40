"""Exact arithmetic on written reasoning: the steps a rationale writes (``3 * 4 = 12``) and whether they hold.

One evaluator serves the GSM8K verifier function (:func:`arithmetic_check`, a
best-of-N scorer) and the demo audit (:mod:`reasoners.domains.demos`): both read the
``a op b = c`` steps of a text, evaluate the left side exactly (fractions, so
``0.1 + 0.2 = 0.3`` holds) and compare it with the written result.

>>> [(s.expression, s.holds) for s in written_steps("4 * 3 = 12 sheep, then 12 + 2 = 15.")]
[('4 * 3', True), ('12 + 2', False)]
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = ["Step", "close", "evaluate", "plain_arithmetic", "written_steps", "numbers_in", "arithmetic_check"]

_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
_STEP = re.compile(
    rf"((?:\(?\s*{_NUMBER}\s*\)?\s*[-+*/]\s*)+\(?\s*{_NUMBER}\s*\)?)\s*=\s*\$?\s*"
    rf"(\(?{_NUMBER}\)?(?:\s*/\s*\(?{_NUMBER}\)?)?)"  # the result: a number, or a fraction such as (32)/(3)
)
_OPERAND = re.compile(_NUMBER)


_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")  # \frac, \dfrac, \tfrac; innermost first
_WORDS: dict[str, int | Fraction] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "dozen": 12,
    "twice": 2, "double": 2, "triple": 3, "thrice": 3, "half": Fraction(1, 2), "quarter": Fraction(1, 4),
}


def plain_arithmetic(text: str) -> str:
    """Arithmetic as Python writes it: LaTeX (``\\times``, ``\\frac{a}{b}`` also nested, math
    delimiters) and Unicode signs replaced, ``4 x 12`` read as a product.

    >>> plain_arithmetic(r"\\(\\tfrac{1}{\\frac{2}{3}} \\times 4\\)")
    ' (1)/((2)/(3)) * 4 '
    """
    while (plain := _FRAC.sub(r"(\1)/(\2)", text)) != text:  # a nested fraction: the inner one first
        text = plain
    text = re.sub(r"\\[()\[\]]", " ", text)  # \( \) \[ \] delimit math, they are not parentheses
    text = re.sub(r"\\times|\\cdot|×|·", "*", text).replace("\\div", "/").replace("÷", "/")
    return re.sub(r"(?<=\d)\s*[xX]\s*(?=\d)", " * ", text)


def _number(text: str) -> Fraction:
    return Fraction(text.replace(",", ""))


def evaluate(expression: str, *, whole: bool = False, operands: list[int] | None = None) -> Fraction:
    """The exact value of an expression of numbers, + - * / and parentheses; ValueError otherwise.

    ``whole=True`` allows only whole numbers and no unary minus (Countdown, Game of 24), and
    ``operands`` then collects the numbers the expression uses, in order.
    """
    try:
        tree = ast.parse(expression.replace(",", "").strip(), mode="eval").body
    except (SyntaxError, RecursionError) as e:
        raise ValueError(f"not arithmetic: {expression!r}") from e

    def value(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            if whole and not isinstance(node.value, int):
                raise ValueError("only whole numbers are allowed")
            if operands is not None and isinstance(node.value, int):
                operands.append(node.value)
            return Fraction(str(node.value))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and not whole:
            return -value(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                if right == 0:
                    raise ValueError("division by zero")
                return left / right
        raise ValueError(f"not arithmetic: {expression!r}")

    return value(tree)


@dataclass(frozen=True)
class Step:
    """One written step: its expression, the numbers it uses, the result written, the true value."""

    expression: str
    operands: tuple[Fraction, ...]
    claimed: Fraction
    value: Fraction

    @property
    def holds(self) -> bool:
        """The written result is right (to 1%, for rounded decimals such as 14.67)."""
        return close(self.value, self.claimed)


def close(a: Fraction, b: Fraction) -> bool:
    """Equal to 1%: a rounded decimal (14.67, 10.666667) matches its exact value."""
    return abs(a - b) <= Fraction(1, 100) * max(Fraction(1), abs(b))


def written_steps(text: str) -> list[Step]:
    """Every ``expression = number`` step in ``text`` that is plain arithmetic, in order."""
    steps = []
    for left, right in _STEP.findall(plain_arithmetic(text)):
        try:
            value, claimed = evaluate(left), evaluate(right)
        except (ValueError, ZeroDivisionError):
            continue
        operands = tuple(_number(m) for m in _OPERAND.findall(left))
        steps.append(Step(left.strip(), operands, claimed, value))
    return steps


def numbers_in(text: str) -> set[Fraction]:
    """Every number in ``text``: written in digits (commas as thousands separators) or in words
    ("sixteen", "a dozen", "twice"), and percentages also as fractions (20% is 20 and 0.2)."""
    out: set[Fraction] = set()
    for m in re.findall(r"\d[\d,]*(?:\.\d+)?%?", text):
        try:
            value = _number(m.rstrip(",%"))
        except ValueError:
            continue
        out.add(value)
        if m.endswith("%"):
            out.add(value / 100)
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _WORDS:
            out.add(Fraction(_WORDS[word]))
    return out


def arithmetic_check(answer: str | None, text: str, problem: Any = None) -> float:
    """A verifier function for word problems (``Verifier(arithmetic_check)``): 0 without a numeric
    answer; else half for a whole-number answer (GSM8K's are) plus half times the share of written
    steps whose arithmetic holds (all of it when the text has none)."""
    try:
        value = float((answer or "").replace(",", ""))
    except ValueError:
        return 0.0
    steps = written_steps(text)
    held = sum(1 for s in steps if s.holds)
    return 0.5 * value.is_integer() + 0.5 * (held / len(steps) if steps else 1.0)
