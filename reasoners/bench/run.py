"""The benchmark harness behind ``reasoners bench``: strategies compared at equal compute.

Every strategy runs on the same problems under the same per-problem token
budget (or each of several budgets). Results go to a journal, one JSON line per
(strategy, budget, problem), written as each finishes; together with the
model-call cache in the same folder this makes a killed run resume where it
stopped: every finished call replays from the cache (calls that were in flight
when it was killed are sent again). A problem whose run fails (a model error
that outlived its retries everywhere) is journaled as an *error row*, never as a
wrong answer, and the run goes on; resume runs errored rows again unless told to
keep them. Only an :class:`AuthError` or a :class:`ConfigError` stops the run. One
run at a time may write an output folder (an exclusive lock), and a torn last
journal line (a kill mid-write) is cut off on resume. The summary (accuracy over
the answered problems with a 95% Wilson interval, errors, mean tokens, calls,
cost, wall time, how often the budget ran out, truncation) and a plot of
accuracy against tokens are rebuilt from the journal at the end of every run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.budget import Budget
from ..core.errors import AuthError, ConfigError
from ..core.problem import Problem, Result
from ..llm.client import LLM
from ..spec import parse_strategies
from ..strategies import Strategy
from .journal import (
    JOURNAL,
    PREPARED,
    STRATEGY_METRICS,
    journal_key,
    locked,
    read_journal,
)
from .tasks import Task

__all__ = ["BenchConfig", "parse_strategies", "progress_bar", "run_bench", "run_cell", "samples_of"]

log = logging.getLogger(__name__)


def _error_of(e: BaseException) -> dict[str, str]:
    return {"type": type(e).__name__, "message": str(e).splitlines()[0] if str(e) else ""}


@dataclass
class BenchConfig:
    task: Task
    strategies: list[tuple[str, Strategy]]
    llm: LLM
    out: Path
    budgets: list[int | None]
    seed: int = 0
    concurrency: int = 4
    budgets_for: dict[str, list[int | None]] = field(default_factory=dict)
    """Budgets for particular strategy specs instead of ``budgets`` (e.g. a cap matching another's spend)."""
    keep_errors: bool = False
    """Resume keeps error rows as they are instead of running those problems again."""
    allocate: str | None = None
    """``"uniform"`` or ``"adaptive"``: each strategy (self-consistency) gets one total budget over the
    whole task, the single entry of ``budgets`` (see :func:`reasoners.solve_batch`)."""
    export: Callable[[Result], None] | None = None
    """Called with each run's result (``bench --otel`` sends its trace as OpenTelemetry spans)."""
    executor: Any = None
    """Where the cells run: None for this process (``concurrency`` at once), or an executor such as
    :class:`reasoners.bench.distributed.RayExecutor`, whose ``run(config, todo, record)`` runs them."""


async def run_bench(config: BenchConfig, *, progress: Callable[[int, int], None] | None = None,
                    held: bool = False) -> list[dict]:
    """Run every (strategy, budget, problem) not yet in the journal; return all journal rows.

    A problem whose run raises is journaled as an error row and the others go on. An
    :class:`AuthError` or :class:`ConfigError` (every run would fail the same way) stops the
    run: the runs in flight finish and are journaled, none starts after, and it is raised.
    """
    if held:  # the caller holds the folder's lock already
        return await _run_locked(config, progress)
    with locked(config.out):
        return await _run_locked(config, progress)


async def _run_locked(config: BenchConfig, progress: Callable[[int, int], None] | None) -> list[dict]:
    journal = config.out / JOURNAL
    rows = read_journal(journal, repair=True)
    done = {journal_key(r["strategy"], r["budget"], r["problem_id"]) for r in rows
            if config.keep_errors or not r.get("error")}
    rows = [r for r in rows if journal_key(r["strategy"], r["budget"], r["problem_id"]) in done]
    if config.allocate is not None:
        return await _run_allocated(config, rows, done, progress)
    # Problem-major order: a run stopped part-way has compared every strategy on the same problems.
    todo = [
        (spec, strategy, budget, problem)
        for problem in config.task.problems
        for spec, strategy in config.strategies
        for budget in config.budgets_for.get(spec, config.budgets)
        if journal_key(spec, budget, problem.id) not in done
    ]
    strategies = await _prepared(config, {spec for spec, *_ in todo})
    todo = [(spec, strategies[spec], budget, problem) for spec, _, budget, problem in todo]
    total, finished = len(todo) + len(done), len(done)
    if progress:
        progress(finished, total)
    sem = asyncio.Semaphore(config.concurrency)
    lock = asyncio.Lock()
    fatal: list[Exception] = []

    def record(row: dict[str, Any]) -> None:
        nonlocal finished
        with journal.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        rows.append(row)
        finished += 1
        if progress:
            progress(finished, total)

    if config.executor is not None:  # another executor runs the cells; this driver alone writes the journal
        await config.executor.run(config, todo, record)
        return rows

    async def one(spec: str, strategy: Strategy, budget: int | None, problem: Problem) -> None:
        async with sem:
            if fatal:  # after a fatal error, finish the runs in flight (their rows are kept) but start none
                return
            try:
                row = await run_cell(config.task, config.llm, spec, strategy, budget, problem, config.seed,
                                     config.export)
            except (AuthError, ConfigError) as e:
                fatal.append(e)
                return
        async with lock:
            record(row)

    await asyncio.gather(*(one(*item) for item in todo))
    if fatal:
        raise fatal[0]
    return rows


async def run_cell(task: Task, llm: LLM, spec: str, strategy: Strategy, budget: int | None, problem: Problem,
                   seed: int, export: Callable[[Result], None] | None = None) -> dict[str, Any]:
    """One (strategy, budget, problem) cell as its journal row, whichever executor runs it. A failed
    run is an error row; an :class:`AuthError` or :class:`ConfigError` (every cell would fail alike)
    is raised instead."""
    t0 = time.perf_counter()
    retriever = task.retriever(problem) if task.retriever else None
    try:
        result = await strategy.arun(problem, llm=llm, budget=Budget(tokens=budget), seed=seed, retriever=retriever)
        if export is not None:  # --otel: each run as a trace of its own
            export(result)
        row = await _row(task, spec, budget, problem, result)
    except (AuthError, ConfigError):
        raise
    except Exception as e:  # this problem failed; the others go on
        error = _error_of(e)
        log.warning("%s on problem %s failed: %s: %s", spec, problem.id, error["type"], error["message"])
        row = {"strategy": spec, "budget": budget, "problem_id": problem.id, "gold": problem.gold, "error": error}
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


async def _run_allocated(config: BenchConfig, rows: list[dict], done: set[Any],
                         progress: Callable[[int, int], None] | None) -> list[dict]:
    """One total budget per strategy over the whole task. A batch with any problem not journaled runs
    whole again (it is deterministic, and its completed calls replay from the cache); the rows of the
    problems not yet journaled are appended, one per (strategy, problem), with ``budget`` the total."""
    from ..strategies import solve_batch
    from ..strategies.sampling import Voting

    if len(config.budgets) != 1 or config.budgets[0] is None:
        raise ConfigError("allocation needs one total token budget (--total-budget-tokens)")
    total = config.budgets[0]
    problems = config.task.problems
    finished = sum(1 for spec, _ in config.strategies for p in problems if journal_key(spec, total, p.id) in done)
    if progress:
        progress(finished, len(problems) * len(config.strategies))
    for spec, strategy in config.strategies:
        if not isinstance(strategy, Voting):
            raise ConfigError(f"--allocate draws the samples of a voting strategy; {spec!r} is not "
                              "(use sc, sc:N, deepconf)")
        if all(journal_key(spec, total, p.id) in done for p in problems):
            continue
        t0 = time.perf_counter()
        results = await solve_batch(strategy, problems, llm=config.llm, budget=Budget(tokens=total),
                                    allocate=config.allocate, seed=config.seed)  # type: ignore[arg-type]
        seconds = round((time.perf_counter() - t0) / max(1, len(problems)), 3)
        with (config.out / JOURNAL).open("a", encoding="utf-8") as f:
            for problem, result in zip(problems, results):
                if journal_key(spec, total, problem.id) in done:
                    continue
                row = await _row(config.task, spec, total, problem, result)
                row.update(allocation=result.metadata["allocation"], seconds=seconds)
                f.write(json.dumps(row) + "\n")
                rows.append(row)
                finished += 1
        if progress:
            progress(finished, len(problems) * len(config.strategies))
    return rows


async def _prepared(config: BenchConfig, specs: set[str]) -> dict[str, Strategy]:
    """Each strategy to run, prepared once (AutoCoT's demos); what preparing spent is appended
    to ``prepare.jsonl`` beside the journal, since it belongs to no one problem."""
    out = {}
    for spec, strategy in config.strategies:
        if spec not in specs:
            continue
        t0 = time.perf_counter()
        out[spec], record = await strategy.aprepared(llm=config.llm, seed=config.seed)
        if record.usage.calls:
            with (config.out / PREPARED).open("a", encoding="utf-8") as f:
                f.write(json.dumps({"strategy": spec, "usage": record.usage.to_dict(),
                                    "seconds": round(time.perf_counter() - t0, 3)}) + "\n")
    return out


async def _row(task: Task, spec: str, budget: int | None, problem: Problem, result: Any) -> dict[str, Any]:
    samples = await samples_of(task, problem, result)
    correct = next((s["correct"] for s in samples if s["chosen"]), None)
    if correct is None:  # not among the candidates, or its scoring failed there: score it (a failure stands)
        correct = await task.ascore(problem, result.answer)
    return {
        "strategy": spec,
        "budget": budget,
        "problem_id": problem.id,
        "answer": result.answer,
        "gold": problem.gold,
        "correct": correct,
        "metrics": {**{name: metric(problem, result.answer) for name, metric in task.metrics.items()},
                    **{name: result.metadata[name] for name in STRATEGY_METRICS if name in result.metadata}},
        "confidence": result.confidence,
        "exhausted": result.exhausted,
        "degraded": result.degraded,
        "failed_samples": len(result.metadata.get("failed_samples", [])),
        "truncated": sum(1 for c in result.candidates if c.truncated),
        "candidates": len(result.candidates),
        "samples": samples,
        "usage": result.usage.to_dict(),
        **_tree_of(result),
    }


async def samples_of(task: Task, problem: Problem, result: Any) -> list[dict[str, Any]]:
    """Each candidate's text, extracted answer and correctness (scored once per distinct answer), and
    whether it agrees with the final answer (``chosen``, whose correctness is the row's): what behaviour
    analysis reads from a journal. A candidate that cannot be scored (its code crashed the sandbox) has
    ``correct`` None; the row stands."""
    scored: dict[str | None, bool | None] = {}
    out = []
    for c in result.candidates:
        if c.answer not in scored:
            try:
                scored[c.answer] = await task.ascore(problem, c.answer)
            except (AuthError, ConfigError):
                raise
            except Exception as e:
                log.warning("scoring a candidate of problem %s failed: %s", problem.id, _error_of(e)["message"])
                scored[c.answer] = None
        sample = {"text": c.text, "answer": c.answer, "correct": scored[c.answer], "source": c.source,
                  "chosen": c.answer is not None and c.answer == result.answer}
        if c.reasoning:
            sample["reasoning"] = c.reasoning
        out.append(sample)
    return out


def _tree_of(result: Any) -> dict[str, Any]:
    """For tree strategies (ProbTree): whether the decomposition parsed and, per node, the answer
    each source gave and the one chosen, so a journal tells how the trees were used."""
    tree = result.metadata.get("tree")
    if not tree:
        return {}
    nodes = []
    for node in tree:
        scored = [c for c in node.get("candidates", []) if c.get("answer") is not None]
        chosen = max(scored, key=lambda c: c["score"] if c.get("score") is not None else -1e18, default=None)
        nodes.append({"id": node["id"], "question": node.get("question_asked") or node.get("question"),
                      "answer": node.get("answer"), "chosen": chosen["source"] if chosen else None,
                      "sources": {c["source"]: c.get("answer") for c in node.get("candidates", [])}})
    return {"tree": {"parse": result.metadata.get("parse"), "nodes": nodes}}


@contextmanager
def progress_bar(desc: str) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr, as the ``progress`` callback for :func:`run_bench`."""
    from tqdm import tqdm

    bar = tqdm(unit="run", desc=desc, file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
