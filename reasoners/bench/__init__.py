"""Benchmarks behind ``reasoners bench`` and ``reasoners analyze``, above the strategies (no strategy
or scorer imports this package): task loaders (:mod:`~reasoners.bench.tasks`), running strategies
at equal compute (:mod:`~reasoners.bench.run`), the journal that makes a run resumable
(:mod:`~reasoners.bench.journal`), the report rebuilt from it (:mod:`~reasoners.bench.report`),
behaviour analysis (:mod:`~reasoners.bench.analyze`, :mod:`~reasoners.bench.behaviors`) and the
Ray executor (:mod:`~reasoners.bench.distributed`)."""

from __future__ import annotations

from ..spec import parse_strategies
from .journal import JOURNAL, STRATEGY_METRICS, locked, read_journal
from .report import (
    pareto_frontier,
    plot_accuracy_vs_tokens,
    series_styles,
    summarize,
    wilson,
    write_report,
)
from .run import BenchConfig, progress_bar, run_bench
from .tasks import TASKS, Task, load_task

__all__ = [
    "JOURNAL", "STRATEGY_METRICS", "BenchConfig", "locked", "pareto_frontier", "parse_strategies",
    "plot_accuracy_vs_tokens", "progress_bar", "read_journal", "run_bench", "series_styles", "summarize",
    "wilson", "write_report", "TASKS", "Task", "load_task",
]
