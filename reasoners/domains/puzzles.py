"""Puzzle adapters for the search strategies: states, step prompts, step checking, final answers.

A :class:`Puzzle` wraps one problem. Search asks it for the start state, a
prompt that makes the model propose next steps, and the valid children those
proposals lead to (every step is checked here, exactly); the linear strategy
asks it for a whole-solution prompt and checks the final answer.

- :class:`Arithmetic`: Countdown and Game of 24 (``metadata["numbers"]``,
  ``metadata["target"]``, default 24). A step is "a op b = c".
- :class:`Sudoku`: 9x9 Sudoku (``metadata["puzzle"]``, rows of digits, 0 blank).
  A step is "r3c5 = 7"; a state where some blank cell has no legal digit is dead.

:func:`puzzle_for` picks the adapter from the problem's metadata.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Generic, TypeVar

from ..answers import boxed_contents
from ..answers.arithmetic import evaluate, plain_arithmetic
from ..core.errors import ConfigError
from ..core.problem import Problem

__all__ = [
    "Puzzle", "Arithmetic", "Sudoku", "ArithmeticState", "puzzle_for", "parse_steps", "final_answer_text",
    "plain_expression", "check_24", "check_sudoku", "parse_grid",
]

S = TypeVar("S")

_ANSWER = re.compile(r"answer is:?", re.I)


# -- exact checkers (the tasks score with these too) ---------------------------------------


_LATEX_OPS = [(re.compile(r"\\ast\b|∗"), "*"), (re.compile(r"[−–]"), "-"),
              (re.compile(r"\\(?:left|right)\b|\\[,;!]|\$|\*\*|`"), " ")]


def plain_expression(text: str, *, boxed: bool = True) -> str:
    """``text`` with the LaTeX and markdown a model wraps arithmetic in taken off: the last
    ``\\boxed{...}``'s content if there is one (with ``boxed``; without, only the box itself goes),
    ``\\times``/``\\cdot``/``×`` as ``*``, ``\\div``/``÷`` as ``/``, ``\\frac{a}{b}`` as ``(a)/(b)``,
    braces as parentheses; ``\\(``, ``\\[``, ``$``, ``**`` and backticks dropped.

    >>> plain_expression(r"\\(\\boxed{(90 - 58) \\times 35}\\)")
    '(90 - 58) * 35'
    """
    if boxed and (boxes := boxed_contents(text)):
        text = boxes[-1]
    text = plain_arithmetic(text)  # fractions, \times, \cdot, \div, \( \[, Unicode signs: as the verifier reads them
    for pattern, replacement in _LATEX_OPS:
        text = pattern.sub(replacement, text)
    text = text.replace("\\boxed", "").replace("{", "(").replace("}", ")")
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def check_24(numbers: list[int], expression: str | None, target: int = 24) -> bool:
    """True when ``expression`` uses each of ``numbers`` exactly once and equals ``target`` exactly.

    LaTeX and markdown are read through (:func:`plain_expression`); with an ``=`` in it, any side
    may be the expression (``37 = (65 - 60) * 8 - 3`` counts like its right-hand side).
    """
    if not expression:
        return False
    for side in plain_expression(expression).replace("x", "*").split("="):
        try:
            used: list[int] = []
            value = evaluate(side.strip(), whole=True, operands=used)
        except (ValueError, ZeroDivisionError, RecursionError):
            continue
        if value == target and Counter(used) == Counter(numbers):
            return True
    return False


def parse_grid(text: str | None) -> list[list[int]] | None:
    """The last 9 lines of 9 digits (0 or _ for blanks) in ``text``, or None."""
    if not text:
        return None
    rows = []
    for line in text.strip().splitlines():
        cells = re.findall(r"[0-9_.]", line)
        if len(cells) == 9:
            rows.append([0 if c in "_." else int(c) for c in cells])
        elif rows and len(rows) < 9:
            rows = []
    return rows[-9:] if len(rows) >= 9 else None


def check_sudoku(puzzle: list[list[int]], answer: str | None) -> bool:
    """True when ``answer`` is a full grid obeying the rules and keeping every given of ``puzzle``."""
    grid = parse_grid(answer)
    if grid is None:
        return False
    full = set(range(1, 10))
    rows_ok = all(set(r) == full for r in grid)
    cols_ok = all({grid[r][c] for r in range(9)} == full for c in range(9))
    boxes_ok = all(
        {grid[r][c] for r in range(br, br + 3) for c in range(bc, bc + 3)} == full
        for br in (0, 3, 6)
        for bc in (0, 3, 6)
    )
    givens_ok = all(puzzle[r][c] in (0, grid[r][c]) for r in range(9) for c in range(9))
    return rows_ok and cols_ok and boxes_ok and givens_ok


def final_answer_text(text: str) -> str | None:
    """What follows the last "The answer is" in ``text`` (possibly several lines), or None."""
    marks = list(_ANSWER.finditer(text))
    return text[marks[-1].end():].strip() if marks else None


class Puzzle(ABC, Generic[S]):
    """One problem seen as states and steps. Steps are checked exactly; the model only proposes."""

    @abstractmethod
    def start(self) -> S: ...

    @abstractmethod
    def propose_prompt(self, state: S, k: int) -> str:
        """Ask the model for ``k`` possible next steps from ``state``."""

    @abstractmethod
    def children(self, state: S, text: str) -> list[tuple[str, S]]:
        """(step, next state) for every valid step in the model's ``text``, in order, without repeats."""

    @abstractmethod
    def solved(self, state: S) -> bool: ...

    @abstractmethod
    def dead(self, state: S) -> bool:
        """True when no sequence of valid steps from ``state`` can solve the puzzle (backtrack)."""

    @abstractmethod
    def distance(self, state: S) -> float:
        """How far ``state`` is from solved; the search returns the closest state when it runs out."""

    @abstractmethod
    def describe(self, state: S) -> str: ...

    @abstractmethod
    def steps_left(self, state: S) -> int:
        """The fewest steps any solution from ``state`` takes (a search's expansions scale with it)."""

    @abstractmethod
    def answer(self, state: S) -> str | None:
        """The final answer a state stands for (when complete), in the task's answer format."""

    @abstractmethod
    def linear_prompt(self, backtrack: bool) -> str:
        """Ask for a whole solution in one generation, backtracking in text if ``backtrack``."""

    @abstractmethod
    def parse_final(self, text: str) -> str | None:
        """The final answer in a whole-solution ``text``, or None."""

    @abstractmethod
    def check(self, answer: str | None) -> bool:
        """True when ``answer`` solves the puzzle exactly."""


# -- Countdown and Game of 24 ---------------------------------------------------------------

_STEP = re.compile(r"(-?\d+(?:/\d+)?)\s*([+\-*/×x÷])\s*(-?\d+(?:/\d+)?)\s*=\s*(-?\d+(?:/\d+)?)")
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


def _fmt(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def parse_steps(text: str) -> list[tuple[Fraction, str, Fraction, Fraction]]:
    """Every "a op b = c" in ``text`` (LaTeX read through), in order, without repeats."""
    seen, out = set(), []
    for m in _STEP.finditer(plain_expression(text, boxed=False)):
        step = (Fraction(m.group(1)), m.group(2), Fraction(m.group(3)), Fraction(m.group(4)))
        if step not in seen:
            seen.add(step)
            out.append(step)
    return out


@dataclass(frozen=True)
class ArithmeticState:
    """Numbers left (exact fractions) and the expression that built each."""

    numbers: tuple[Fraction, ...]
    expressions: tuple[str, ...]

    def apply(self, a: Fraction, op: str, b: Fraction, claimed: Fraction) -> ArithmeticState | None:
        """The state after ``a op b = claimed``, or None if a number is not available or the arithmetic is wrong."""
        op = {"×": "*", "x": "*", "÷": "/"}.get(op, op)
        if (op == "/" and b == 0) or _OPS[op](a, b) != claimed:
            return None
        left, exprs = list(self.numbers), list(self.expressions)
        try:
            i = left.index(a)
            left.pop(i)
            ea = exprs.pop(i)
            j = left.index(b)
            left.pop(j)
            eb = exprs.pop(j)
        except ValueError:
            return None
        return ArithmeticState((*left, claimed), (*exprs, f"({ea} {op} {eb})"))


PROPOSE_ARITHMETIC = (
    "Use arithmetic (+ - * /) on two of the numbers to make a new number, aiming for {target} in the end. "
    "Numbers: {numbers}\nList {k} different possible next steps, one per line, like '4 + 9 = 13'."
)
LINEAR_ARITHMETIC = (
    "Use the numbers {numbers} each exactly once with + - * / to make {target}. Think step by step; when a "
    "path fails, write 'backtrack' and try another. Finish with 'The answer is: <expression>'."
)
DIRECT_ARITHMETIC = (
    "Use the numbers {numbers} each exactly once with + - * / to make {target}. "
    "Write the steps, then finish with 'The answer is: <expression>'."
)


class Arithmetic(Puzzle[ArithmeticState]):
    """Combine all the numbers, each once, with + - * / into the target (Countdown, Game of 24)."""

    def __init__(self, numbers: list[int], target: int = 24) -> None:
        if len(numbers) < 2:
            raise ConfigError("an arithmetic puzzle needs at least two numbers")
        self.numbers = [int(n) for n in numbers]
        self.target = int(target)

    def start(self) -> ArithmeticState:
        return ArithmeticState(tuple(Fraction(n) for n in self.numbers), tuple(str(n) for n in self.numbers))

    def propose_prompt(self, state: ArithmeticState, k: int) -> str:
        return PROPOSE_ARITHMETIC.format(target=self.target, numbers=self.describe(state), k=k)

    def children(self, state: ArithmeticState, text: str) -> list[tuple[str, ArithmeticState]]:
        out: list[tuple[str, ArithmeticState]] = []
        for a, op, b, claimed in parse_steps(text):
            nxt = state.apply(a, op, b, claimed)
            if nxt is not None and all(nxt != s for _, s in out):
                out.append((f"{_fmt(a)} {op} {_fmt(b)} = {_fmt(claimed)}", nxt))
        return out

    def solved(self, state: ArithmeticState) -> bool:
        return len(state.numbers) == 1 and state.numbers[0] == self.target

    def dead(self, state: ArithmeticState) -> bool:
        return len(state.numbers) == 1 and not self.solved(state)

    def distance(self, state: ArithmeticState) -> float:
        return float(min(abs(n - self.target) for n in state.numbers)) + (len(state.numbers) - 1)

    def describe(self, state: ArithmeticState) -> str:
        return " ".join(_fmt(n) for n in state.numbers)

    def steps_left(self, state: ArithmeticState) -> int:
        return len(state.numbers) - 1

    def answer(self, state: ArithmeticState) -> str | None:
        return state.expressions[0] if len(state.numbers) == 1 else None

    def linear_prompt(self, backtrack: bool) -> str:
        template = LINEAR_ARITHMETIC if backtrack else DIRECT_ARITHMETIC
        return template.format(numbers=" ".join(map(str, self.numbers)), target=self.target)

    def parse_final(self, text: str) -> str | None:
        tail = final_answer_text(text)
        lines = [line.strip(" .") for line in plain_expression(tail).splitlines()] if tail else []
        return next((line for line in lines if line), None)

    def check(self, answer: str | None) -> bool:
        return check_24(self.numbers, answer, self.target)


# -- Sudoku ---------------------------------------------------------------------------------

_CELL = re.compile(r"r\s*(\d)\s*c\s*(\d)\s*[=:]\s*(\d)", re.I)

PROPOSE_SUDOKU = (
    "Sudoku (_ is an empty cell; rows and columns are numbered 1-9):\n{grid}\n"
    "Fill one empty cell so that no row, column or 3x3 box repeats a digit. "
    "List {k} different possible moves, one per line, like 'r3c5 = 7' (row 3, column 5 gets 7)."
)
LINEAR_SUDOKU = (
    "Solve this Sudoku (_ is an empty cell):\n{grid}\nFill the empty cells one at a time; when a digit leads "
    "to a contradiction, write 'backtrack' and undo it. Finish with 'The answer is:' and the full grid, "
    "9 lines of 9 digits separated by spaces."
)
DIRECT_SUDOKU = (
    "Solve this Sudoku (_ is an empty cell):\n{grid}\n"
    "Finish with 'The answer is:' and the full grid, 9 lines of 9 digits separated by spaces."
)


def _box(i: int) -> int:
    return (i // 27) * 3 + (i % 9) // 3


class Sudoku(Puzzle[tuple[int, ...]]):
    """9x9 Sudoku; a state is the 81 cells row by row, 0 for empty."""

    def __init__(self, puzzle: list[list[int]]) -> None:
        if len(puzzle) != 9 or any(len(r) != 9 for r in puzzle):
            raise ConfigError("a Sudoku puzzle must be 9 rows of 9 digits (0 for empty)")
        self.puzzle = [[int(x) for x in row] for row in puzzle]

    def start(self) -> tuple[int, ...]:
        return tuple(x for row in self.puzzle for x in row)

    def legal(self, cells: tuple[int, ...], i: int) -> set[int]:
        """Digits that cell ``i`` can take without repeating one in its row, column or box."""
        r, c, b = i // 9, i % 9, _box(i)
        taken = {cells[j] for j in range(81) if j // 9 == r or j % 9 == c or _box(j) == b}
        return set(range(1, 10)) - taken

    def propose_prompt(self, state: tuple[int, ...], k: int) -> str:
        return PROPOSE_SUDOKU.format(grid=self.describe(state), k=k)

    def children(self, state: tuple[int, ...], text: str) -> list[tuple[str, tuple[int, ...]]]:
        out: list[tuple[str, tuple[int, ...]]] = []
        for m in _CELL.finditer(text):
            r, c, v = (int(g) for g in m.groups())
            i = (r - 1) * 9 + (c - 1)
            if not (1 <= r <= 9 and 1 <= c <= 9) or state[i] != 0 or v not in self.legal(state, i):
                continue
            nxt = state[:i] + (v,) + state[i + 1:]
            if all(nxt != s for _, s in out):
                out.append((f"r{r}c{c} = {v}", nxt))
        return out

    def solved(self, state: tuple[int, ...]) -> bool:
        return 0 not in state

    def dead(self, state: tuple[int, ...]) -> bool:
        return any(v == 0 and not self.legal(state, i) for i, v in enumerate(state))

    def distance(self, state: tuple[int, ...]) -> float:
        return float(state.count(0))

    def steps_left(self, state: tuple[int, ...]) -> int:
        return state.count(0)  # one step per blank

    def describe(self, state: tuple[int, ...]) -> str:
        return "\n".join(" ".join(str(v) if v else "_" for v in state[r * 9:(r + 1) * 9]) for r in range(9))

    def answer(self, state: tuple[int, ...]) -> str | None:
        return self.describe(state) if self.solved(state) else None

    def linear_prompt(self, backtrack: bool) -> str:
        return (LINEAR_SUDOKU if backtrack else DIRECT_SUDOKU).format(grid=self.describe(self.start()))

    def parse_final(self, text: str) -> str | None:
        grid = parse_grid(final_answer_text(text) or text)
        return "\n".join(" ".join(map(str, row)) for row in grid) if grid else None

    def check(self, answer: str | None) -> bool:
        return check_sudoku(self.puzzle, answer)


def puzzle_for(problem: Problem) -> Puzzle[Any]:
    """The adapter for ``problem``: Sudoku for ``metadata["puzzle"]``, arithmetic for ``metadata["numbers"]``."""
    meta = problem.metadata
    if "puzzle" in meta:
        return Sudoku(meta["puzzle"])
    if meta.get("numbers"):
        return Arithmetic(meta["numbers"], meta.get("target", 24))
    raise ConfigError(
        "search needs a puzzle problem: metadata['numbers'] (and 'target', default 24) for Countdown/24, "
        "or metadata['puzzle'] (9 rows of 9 digits, 0 for empty) for Sudoku"
    )
