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
import fcntl
import json
import logging
import math
import os
import sys
import textwrap
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
from ..strategies import Strategy
from .tasks import Task

__all__ = [
    "parse_strategies", "pareto_frontier", "plot_accuracy_vs_tokens", "progress_bar", "read_journal", "run_bench",
    "samples_of", "series_styles", "summarize", "wilson", "write_report",
]

log = logging.getLogger(__name__)

JOURNAL = "results.jsonl"
PREPARED = "prepare.jsonl"
STRATEGY_METRICS = ("pass_at_1",)
"""Numbers a strategy reports in ``result.metadata`` that the journal keeps as metrics (CodeChain's pass@1)."""


def parse_strategies(text: str) -> list[tuple[str, Strategy]]:
    """``"cot,sc:8,bon(n=4,scorer=judge) | trlm"`` -> [(label, strategy)]: each item a pipeline spec
    labelled by its own text (see :mod:`reasoners.spec`; ``name:N`` is short for ``name(n=N)``)."""
    from ..spec import parse_spec_list

    return parse_spec_list(text)


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion."""
    if n == 0:
        return (0.0, 0.0)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _key(spec: str, budget: int | None, problem_id: str) -> str:
    return f"{spec}|{budget}|{problem_id}"


def read_journal(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """Journal rows, the last row per (strategy, budget, problem) winning (a rerun of an error row
    replaces it). A torn last line (a kill mid-write) is skipped, and with ``repair`` cut off the
    file, so the next row starts on a line of its own; either way a warning says so."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty unless the last write was torn
    rows: dict[str, dict[str, Any]] = {}
    for i, line in enumerate([*lines, tail] if tail else lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows[_key(row["strategy"], row["budget"], row["problem_id"])] = row
            if line is tail and repair:  # a whole row without its newline: end it, so the next row starts apart
                with path.open("ab") as f:
                    f.write(b"\n")
        except (ValueError, KeyError, TypeError):
            if i < len(lines):
                log.warning("%s: line %d is not a journal row; skipped", path, i + 1)
            else:
                log.warning("%s: the last line was torn (%d bytes, a run killed mid-write)%s", path, len(tail),
                            "; cut off" if repair else "; skipped")
                if repair:
                    with path.open("r+b") as f:
                        f.truncate(len(data) - len(tail))
    return list(rows.values())


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the output folder for one run: a second run on the same folder fails at once."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another reasoners bench is writing to {out}; wait for it or choose another --out") from None
        yield
    finally:
        os.close(fd)


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
    done = {_key(r["strategy"], r["budget"], r["problem_id"]) for r in rows
            if config.keep_errors or not r.get("error")}
    rows = [r for r in rows if _key(r["strategy"], r["budget"], r["problem_id"]) in done]
    if config.allocate is not None:
        return await _run_allocated(config, rows, done, progress)
    # Problem-major order: a run stopped part-way has compared every strategy on the same problems.
    todo = [
        (spec, strategy, budget, problem)
        for problem in config.task.problems
        for spec, strategy in config.strategies
        for budget in config.budgets_for.get(spec, config.budgets)
        if _key(spec, budget, problem.id) not in done
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
    from ..strategies import SelfConsistency, solve_batch

    if len(config.budgets) != 1 or config.budgets[0] is None:
        raise ConfigError("allocation needs one total token budget (--total-budget-tokens)")
    total = config.budgets[0]
    problems = config.task.problems
    finished = sum(1 for spec, _ in config.strategies for p in problems if _key(spec, total, p.id) in done)
    if progress:
        progress(finished, len(problems) * len(config.strategies))
    for spec, strategy in config.strategies:
        if not isinstance(strategy, SelfConsistency):
            raise ConfigError(f"--allocate draws the samples of self-consistency; {spec!r} is not (use sc, sc:N)")
        if all(_key(spec, total, p.id) in done for p in problems):
            continue
        t0 = time.perf_counter()
        results = await solve_batch(strategy, problems, llm=config.llm, budget=Budget(tokens=total),
                                    allocate=config.allocate, seed=config.seed)  # type: ignore[arg-type]
        seconds = round((time.perf_counter() - t0) / max(1, len(problems)), 3)
        with (config.out / JOURNAL).open("a", encoding="utf-8") as f:
            for problem, result in zip(problems, results):
                if _key(spec, total, problem.id) in done:
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


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (strategy, budget): strategies in first-seen order, budgets ascending (none last).

    Error rows count in ``errors`` only: accuracy and every mean are over the answered problems.
    """
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["strategy"], r["budget"]), []).append(r)
    order = {spec: i for i, spec in reversed(list(enumerate(r["strategy"] for r in rows)))}
    table = []
    for spec, budget in sorted(groups, key=lambda k: (order[k[0]], k[1] is None, k[1] or 0)):
        every = groups[(spec, budget)]
        rs = [r for r in every if not r.get("error")]
        n = len(rs)
        correct = sum(1 for r in rs if r["correct"])
        low, high = wilson(correct, n)
        candidates = sum(r["candidates"] for r in rs)
        table.append({
            "strategy": spec,
            "budget": budget,
            "problems": n,
            "errors": len(every) - n,
            "degraded": sum(1 for r in rs if r.get("degraded")),
            "accuracy": correct / n if n else 0.0,
            "ci95": [round(low, 3), round(high, 3)],
            "mean_tokens": sum(r["usage"]["total_tokens"] for r in rs) / max(n, 1),
            "mean_calls": sum(r["usage"]["calls"] for r in rs) / max(n, 1),
            "cost": sum(r["usage"]["cost"] for r in rs),
            "mean_seconds": sum(r["seconds"] for r in rs) / max(n, 1),
            "hit_budget": sum(1 for r in rs if r["exhausted"]) / max(n, 1),
            "truncated": (sum(r["truncated"] for r in rs) / candidates) if candidates else 0.0,
            "cache_hits": sum(r["usage"]["cache_hits"] for r in rs),
            **_metric_means(rs),
        })
    return table


def _metric_means(rows: list[dict[str, Any]]) -> dict[str, float]:
    """``mean_<metric>`` over the rows that recorded it (journals from older runs have none)."""
    values: dict[str, list[float]] = {}
    for r in rows:
        for name, value in (r.get("metrics") or {}).items():
            values.setdefault(name, []).append(value)
    return {f"mean_{name}": sum(v) / len(v) for name, v in sorted(values.items())}


_FIXED = ("mean_tokens", "mean_calls", "mean_seconds")


def write_report(rows: list[dict[str, Any]], out: Path, *, title: str,
                 behaviors: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Write summary.json, summary.md and (with several budgets or strategies) accuracy_vs_tokens.png.

    ``behaviors`` (rates from :func:`reasoners.bench.analyze.behavior_rates`) adds a column per
    behaviour: the share of the samples of that (strategy, budget) that show it."""
    table = summarize(rows)
    if behaviors is not None:
        rates = {(b["strategy"], b["budget"]): b["rates"] for b in behaviors}
        for t in table:
            t.update({name: rate for name, rate in rates.get((t["strategy"], t["budget"]), {}).items()})
    (out / "summary.json").write_text(json.dumps(table, indent=2), encoding="utf-8")
    from .behaviors import BEHAVIORS

    extra = list(dict.fromkeys(k for t in table for k in t
                               if (k.startswith("mean_") and k not in _FIXED) or k in BEHAVIORS))
    lines = [
        f"# {title}",
        "",
        "| strategy | budget/problem | n | errors | accuracy | 95% CI | " + "".join(f"{k} | " for k in extra)
        + "mean tokens | mean calls | cost $ | mean s | hit budget | truncated |",
        "|---|---|---|---|---|---|" + "---|" * len(extra) + "---|---|---|---|---|---|",
    ]
    for t in table:
        lines.append(
            f"| {t['strategy']} | {t['budget'] or 'none'} | {t['problems']} | {t['errors']} | {t['accuracy']:.1%} "
            f"| {t['ci95'][0]:.1%}-{t['ci95'][1]:.1%} | "
            + "".join(f"{t[k]:.3f} | " if t.get(k) is not None else "- | " for k in extra)
            + f"{t['mean_tokens']:.0f} | {t['mean_calls']:.1f} "
            f"| {t['cost']:.4f} | {t['mean_seconds']:.1f} | {t['hit_budget']:.0%} | {t['truncated']:.0%} |"
        )
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plot_accuracy_vs_tokens(table, out / "accuracy_vs_tokens.png", title)
    return table


_MARKERS = "osD^vP*Xph<>8H"


def series_styles(labels: list[str]) -> dict[str, tuple[Any, str]]:
    """A distinct (colour, marker) pair per label, in order: 20 colours, each with its own marker
    per cycle, so no two strategies look alike even past 20 of them."""
    import matplotlib

    colours = matplotlib.colormaps["tab20"].colors  # type: ignore[attr-defined]  # a ListedColormap
    return {label: (colours[i % len(colours)], _MARKERS[(i + i // len(colours)) % len(_MARKERS)])
            for i, label in enumerate(labels)}


def pareto_frontier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both fewer tokens and higher accuracy, by tokens."""
    frontier: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not frontier or y > frontier[-1][1]:
            frontier.append((x, y))
    return frontier


def plot_accuracy_vs_tokens(table: list[dict[str, Any]], path: Path, title: str) -> dict[str, tuple[Any, str]]:
    """Accuracy (95% intervals) against mean tokens per problem, for every committed plot.

    Tokens on a log axis; a distinct colour and marker per strategy, with the legend
    outside the axes; the accuracy-vs-tokens Pareto frontier as a dashed line; points
    that would sit on the same spot are spread a little sideways so none hides another.
    Returns the style of each strategy.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_strategy: dict[str, list[dict[str, Any]]] = {}
    for t in table:
        if t["problems"]:
            by_strategy.setdefault(t["strategy"], []).append(t)
    styles = series_styles(list(by_strategy))
    spots: dict[tuple[float, float], int] = {}
    for points in by_strategy.values():
        for t in points:
            key = (round(max(t["mean_tokens"], 1.0), -1), round(t["accuracy"], 3))
            spots[key] = spots.get(key, 0) + 1
    seen: dict[tuple[float, float], int] = {}
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for spec, points in by_strategy.items():
        points.sort(key=lambda t: t["mean_tokens"])
        xs, ys = [], []
        for t in points:
            key = (round(max(t["mean_tokens"], 1.0), -1), round(t["accuracy"], 3))
            rank = seen.get(key, 0)
            seen[key] = rank + 1
            xs.append(max(t["mean_tokens"], 1.0) * 1.06 ** (rank - (spots[key] - 1) / 2))
            ys.append(t["accuracy"])
        err = [[t["accuracy"] - t["ci95"][0] for t in points], [t["ci95"][1] - t["accuracy"] for t in points]]
        colour, marker = styles[spec]
        label = "\n".join(textwrap.wrap(spec, 44, break_on_hyphens=False)) or spec  # long specs on lines
        ax.errorbar(xs, ys, yerr=err, marker=marker, color=colour, capsize=3, linestyle="-", label=label,
                    markersize=7, alpha=0.9)
    frontier = pareto_frontier([(max(t["mean_tokens"], 1.0), t["accuracy"]) for ps in by_strategy.values()
                                for t in ps])
    if len(frontier) > 1:
        ax.plot(*zip(*frontier), linestyle="--", color="0.4", linewidth=1, label="Pareto frontier", zorder=0)
    ax.set_xscale("log")
    ax.set_xlabel("mean tokens per problem (log scale)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize=10)
    ax.grid(True, which="both", alpha=0.2)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return styles
