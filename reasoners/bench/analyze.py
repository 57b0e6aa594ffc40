"""Behaviour analysis of benchmark runs and traces: what ``reasoners analyze`` and ``bench --behaviors`` do.

A bench folder's journal holds each candidate's text, answer and correctness
(``samples``). Journals written before it did are recovered by replay: every
journaled cell runs again through a client whose transport answers only from the
folder's cache (:class:`~reasoners.llm.replay.CacheOnly`), rebuilt from the
folder's ``run.json`` (task, model, client options, seed, strategies), so no
model is called; a cell the cache cannot answer whole is recorded as
``partial`` or ``missing``, never fatal. Each rationale is classified
(:mod:`reasoners.bench.behaviors`) and ``behaviors.json`` gets, per cell, every
sample's counts and evidence, and per (strategy, budget) the share of samples
showing each behaviour, overall and split by whether the sample was correct.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..core.budget import Budget, Meter, meter_for
from ..core.errors import AuthError, ConfigError, ReasonersError
from ..spec import parse_strategies
from .behaviors import BEHAVIORS, Classifier
from .journal import JOURNAL, read_journal
from .report import series_styles
from .run import run_cell
from .tasks import load_task

__all__ = ["MANIFEST", "RunManifest", "journal_of", "recover_samples", "analyze_rows", "analyze_rows_to",
           "analyze_folder", "analyze_trace",
           "behavior_rates", "plot_behaviors", "format_table"]

log = logging.getLogger(__name__)

MANIFEST = "run.json"
OUTPUT = "behaviors.json"
PLOT = "behaviors.png"


@dataclass
class RunManifest:
    """How a bench folder's run was made, enough to rebuild its client and strategies (never a key).

    ``strategies`` maps each journal label to the spec that builds it (the label itself for runs of
    ``reasoners bench``); ``None`` marks a strategy no spec can build (it is not replayed), and
    ``{folder}`` in a spec stands for the folder (files kept beside the journal, such as demos).
    """

    task: str
    model: str
    limit: int | None = None
    data: str | None = None
    seed: int = 0
    llm: dict[str, Any] = field(default_factory=dict)
    """``LLM(...)`` keywords other than the key: api_base, temperature, max_tokens (they are in the cache keys)."""
    strategies: dict[str, str | None] = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> RunManifest:
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except FileNotFoundError:
            raise ConfigError(f"{folder} has journal rows without texts and no {MANIFEST} to replay them from "
                              "its cache (rerun the bench, which records both)") from None
        except (ValueError, TypeError) as e:
            raise ConfigError(f"{path} is not a run manifest: {e}") from e

    def replay_llm(self, cache_path: Path) -> Any:
        """The run's client on its cache, with a transport that raises on any uncached call."""
        from ..llm import LLM, Cache, RetryPolicy
        from ..llm.replay import CacheOnly

        options = {k: v for k, v in self.llm.items() if k not in ("api_key", "cache", "transport", "retry")}
        return LLM(self.model, **options, cache=Cache(cache_path), retry=RetryPolicy(attempts=1),
                   transport=CacheOnly(self.model))


async def recover_samples(folder: Path, rows: list[dict[str, Any]]) -> None:
    """Give every answered row without ``samples`` its samples, replayed from the folder's cache.

    Sets ``row["recovered"]``: ``"journal"`` (it had them), ``"replay"`` (all calls cached),
    ``"partial"`` (some calls were not: the samples are those the cache held) or ``"missing"``
    (with ``row["reason"]``)."""
    todo = [r for r in rows if not r.get("error") and "samples" not in r]
    for r in rows:
        if "samples" in r:
            r["recovered"] = "journal"
    if not todo:
        return
    manifest = RunManifest.load(folder)
    cache = folder / "cache.sqlite"
    if not cache.is_file():
        raise ConfigError(f"{folder} has no cache.sqlite to replay its journal from")
    task = load_task(manifest.task, path=manifest.data, limit=manifest.limit)
    built: dict[str, Any] = {}
    for label in {r["strategy"] for r in todo}:
        spec = manifest.strategies.get(label, label)
        try:  # "{folder}" in a spec names a file beside the journal (AutoCoT's demos)
            built[label] = parse_strategies(spec.replace("{folder}", str(folder)))[0][1] if spec \
                else f"no spec builds {label!r}"
        except ReasonersError as e:
            built[label] = f"its spec does not parse: {e}"
    problems = {p.id: p for p in task.problems}
    llm = manifest.replay_llm(cache)
    prepared: dict[str, Any] = {}
    for label, strategy in built.items():
        if isinstance(strategy, str):
            prepared[label] = strategy
            continue
        try:
            prepared[label], _ = await strategy.aprepared(llm=llm, seed=manifest.seed)
        except ReasonersError as e:
            prepared[label] = f"preparing it needs calls the cache does not hold: {e}"
    for row in todo:  # one at a time, so each cell's cache misses are its own (a replay is quick)
        await _replay(row, prepared, problems, task, llm, manifest.seed)
    await llm.aclose()


async def _replay(row: dict[str, Any], prepared: dict[str, Any], problems: dict[str, Any], task: Any, llm: Any,
                  seed: int) -> None:
    strategy, problem = prepared[row["strategy"]], problems.get(row["problem_id"])
    if isinstance(strategy, str) or problem is None:
        row.update(recovered="missing", reason=strategy if isinstance(strategy, str)
                   else f"problem {row['problem_id']} is not in the task as {MANIFEST} loads it")
        return
    if row.get("allocation") is not None:
        row.update(recovered="missing", reason="allocated runs replay as one batch, not per cell")
        return
    misses = llm.transport.misses
    try:
        again = await run_cell(task, llm, row["strategy"], strategy, row["budget"], problem, seed)
    except (AuthError, ConfigError) as e:  # run_cell raises what would stop a bench; a replay records it here
        again = {"error": {"type": type(e).__name__, "message": str(e).splitlines()[0]}}
    if again.get("error"):
        row.update(recovered="missing", reason=f"{again['error']['type']}: {again['error']['message']}")
        return
    row["samples"] = again["samples"]
    missed = llm.transport.misses - misses
    if missed:
        row.update(recovered="partial", reason=f"{missed} calls were not in the cache")
    elif again["answer"] != row.get("answer"):
        row.update(recovered="partial", reason=f"the replay answered {again['answer']!r}, the journal {row.get('answer')!r}")
    else:
        row["recovered"] = "replay"


async def analyze_rows(rows: list[dict[str, Any]], classifier: Classifier, *, budget: Budget | Meter | None = None,
                       progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Classify every sample of every answered row: one cell per row, with each sample's answer,
    correctness, counts and evidence (no texts: those stay in the journal). ``budget`` is
    what classifying all of them may spend."""
    meter = meter_for(budget)
    cells = []
    total = sum(len(r.get("samples") or []) for r in rows)
    done = 0
    for r in rows:
        if r.get("error"):
            continue
        cell: dict[str, Any] = {k: r.get(k) for k in ("strategy", "budget", "problem_id", "correct")}
        cell["recovered"] = r.get("recovered", "journal" if "samples" in r else "missing")
        if r.get("reason"):
            cell["reason"] = r["reason"]
        cell["samples"] = []
        for s in r.get("samples") or []:
            cell["samples"].append({"answer": s.get("answer"), "correct": s.get("correct"),
                                    "chosen": s.get("chosen"), "source": s.get("source"),
                                    **await _classify_sample(s, classifier, meter)})
            done += 1
            if progress:
                progress(done, total)
        cells.append(cell)
    return cells


async def _classify_sample(sample: dict[str, Any], classifier: Classifier, budget: Budget | Meter | None) -> dict[str, Any]:
    """One sample's behaviours: in its final text and, for a reasoning model, in its thinking too.
    ``read`` says which were read; ``parts`` has each one's counts; evidence is marked by part."""
    final = await classifier.aclassify(sample.get("text") or "", budget=budget)
    if not sample.get("reasoning"):
        return {**final.to_dict(), "read": "final"}
    thought = await classifier.aclassify(sample["reasoning"], budget=budget)
    return {
        "counts": {b: thought.counts.get(b, 0) + final.counts.get(b, 0) for b in BEHAVIORS},
        "evidence": [{**asdict(e), "part": "reasoning"} for e in thought.evidence]
        + [{**asdict(e), "part": "final"} for e in final.evidence],
        "errors": {**{f"reasoning.{k}": v for k, v in thought.errors.items()}, **final.errors},
        "read": "reasoning+final",
        "parts": {"reasoning": thought.counts, "final": final.counts},
    }


def behavior_rates(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (strategy, budget): the share of samples showing each behaviour (and the mean count),
    over all samples and over the correct and the incorrect ones."""
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    order: dict[tuple[str, Any], int] = {}
    for c in cells:
        key = (c["strategy"], c["budget"])
        order.setdefault(key, len(order))
        groups.setdefault(key, []).append(c)

    def rates(samples: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(samples)
        return {"samples": n,
                "rates": {b: round(sum(1 for s in samples if s["counts"][b] > 0) / n, 4) if n else None
                          for b in BEHAVIORS},
                "mean_counts": {b: round(sum(s["counts"][b] for s in samples) / n, 4) if n else None
                                for b in BEHAVIORS}}

    table = []
    for key in sorted(groups, key=order.__getitem__):
        group = groups[key]
        samples = [s for c in group for s in c["samples"]]
        table.append({
            "strategy": key[0], "budget": key[1], "cells": len(group),
            "not_recovered": sum(1 for c in group if c["recovered"] == "missing"),
            "partial": sum(1 for c in group if c["recovered"] == "partial"),
            **rates(samples),
            "correct": rates([s for s in samples if s.get("correct") is True]),
            "incorrect": rates([s for s in samples if s.get("correct") is False]),
            "unjudged": sum(1 for s in samples if s.get("errors")),
        })
    return table


def format_table(table: list[dict[str, Any]]) -> str:
    """The rates as text: one line per (strategy, budget), each behaviour as all / correct / incorrect."""
    short = {"verification": "verif", "backtracking": "backtr", "subgoal_setting": "subgoal",
             "backward_chaining": "backward"}

    def pct(x: float | None) -> str:
        return "  -" if x is None else f"{x:4.0%}"

    lines = ["behaviour rates: share of samples showing it (all | correct | incorrect samples)",
             f"{'strategy':<44} {'budget':>6} {'n':>5} {'ok':>4} " + " ".join(f"{short[b]:>18}" for b in BEHAVIORS)]
    for t in table:
        label = t["strategy"] if len(t["strategy"]) <= 44 else t["strategy"][:41] + "..."
        cells = [f"{pct(t['rates'][b])}|{pct(t['correct']['rates'][b])}|{pct(t['incorrect']['rates'][b])}"
                 for b in BEHAVIORS]
        lines.append(f"{label:<44} {str(t['budget'] or 'none'):>6} {t['samples']:>5} {t['correct']['samples']:>4} "
                     + " ".join(f"{c:>18}" for c in cells))
        if t["not_recovered"] or t["partial"]:
            lines.append(f"{'':<44} {t['not_recovered']} cells not recovered, {t['partial']} partly")
    return "\n".join(lines)


def plot_behaviors(table: list[dict[str, Any]], path: Path, title: str) -> None:
    """One panel per behaviour: its rate per strategy, bars for correct and incorrect samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [t["strategy"] + (f" @{t['budget']}" if t["budget"] else "") for t in table]
    fig, axes = plt.subplots(1, len(BEHAVIORS), figsize=(4 + 2.2 * len(BEHAVIORS), 1.5 + 0.35 * max(4, len(table))),
                             sharey=True)
    colours = series_styles(["correct", "incorrect"])
    ys = range(len(table))
    for ax, b in zip(axes, BEHAVIORS):
        for offset, split in ((-0.2, "correct"), (0.2, "incorrect")):
            values = [t[split]["rates"][b] or 0.0 for t in table]
            ax.barh([y + offset for y in ys], values, height=0.38, color=colours[split][0],
                    label=f"{split} samples")
        ax.set_title(b.replace("_", " "), fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of samples", fontsize=8)
        ax.grid(True, axis="x", alpha=0.2)
    axes[0].set_yticks(list(ys))
    axes[0].set_yticklabels([lab if len(lab) <= 40 else lab[:37] + "..." for lab in labels], fontsize=7)
    axes[0].invert_yaxis()
    axes[-1].legend(loc="lower right", fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _report(out: Path, classifier: Classifier, source: str, cells: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The rates of ``cells``, written with the cells to ``behaviors.json`` and drawn to ``behaviors.png`` in ``out``."""
    table = behavior_rates(cells)
    (out / OUTPUT).write_text(json.dumps({"classifier": classifier.name, "behaviors": list(BEHAVIORS), "source": source,
                                          "summary": table, "cells": cells}, indent=1) + "\n", encoding="utf-8")
    plot_behaviors(table, out / PLOT, f"reasoning behaviours ({classifier.name} classifier): {name}")
    return table


def journal_of(folder: Path) -> Path:
    """The journal of a bench folder, or a one-line ConfigError saying what to give instead."""
    journal = folder / JOURNAL
    if not journal.is_file():
        raise ConfigError(f"{folder} holds no {JOURNAL}: give a folder written by reasoners bench, or --trace FILE")
    return journal


async def analyze_rows_to(folder: Path, rows: list[dict[str, Any]], classifier: Classifier, *,
                          budget: Budget | Meter | None = None,
                          progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Recover, classify and write ``behaviors.json`` and ``behaviors.png`` for journal rows of
    ``folder``; return the rates table."""
    await recover_samples(folder, rows)
    cells = await analyze_rows(rows, classifier, budget=budget, progress=progress)
    return _report(folder, classifier, str(folder), cells, folder.name)


async def analyze_folder(folder: Path, classifier: Classifier, *, budget: Budget | Meter | None = None,
                         progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """Analyse a bench folder: recover texts (replay if needed), classify, write ``behaviors.json``
    and ``behaviors.png`` into it, and return the rates table."""
    return await analyze_rows_to(folder, read_journal(journal_of(folder)), classifier, budget=budget,
                                 progress=progress)


async def analyze_trace(path: Path, classifier: Classifier, *, budget: Budget | Meter | None = None) -> list[dict[str, Any]]:
    """Analyse a trace JSON (``reasoners run --trace``): every model reply, grouped by the strategy
    path above it (no gold, so no correct/incorrect split). Writes ``behaviors.json`` and
    ``behaviors.png`` beside it."""
    from .behaviors import rationales

    try:
        trace = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no such trace file: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder; --trace takes a trace file (give a bench folder without --trace)") \
            from None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
    except (ValueError, RecursionError) as e:
        raise ConfigError(f"{path} is not a trace: not JSON ({e})") from None
    if not isinstance(trace, dict) or "kind" not in trace:
        raise ConfigError(f"{path} is not a trace (write one with reasoners run --trace FILE)")
    groups: dict[str, dict[str, Any]] = {}
    for where, text in rationales(trace):
        label = where or str(trace.get("name", ""))
        row = groups.setdefault(label, {"strategy": label, "budget": None, "problem_id": "trace", "correct": None,
                                        "samples": []})
        row["samples"].append({"text": text, "answer": None, "correct": None})
    rows = list(groups.values())
    return _report(path.parent, classifier, str(path), await analyze_rows(rows, classifier, budget=budget), path.name)
