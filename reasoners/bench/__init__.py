"""Benchmarks: task loaders (:mod:`reasoners.bench.tasks`) and the harness behind ``reasoners bench``
(:mod:`reasoners.bench.harness`). No strategy or scorer imports this package; it sits above them."""

from __future__ import annotations

from .harness import (
    JOURNAL,
    STRATEGY_METRICS,
    BenchConfig,
    locked,
    pareto_frontier,
    parse_strategies,
    plot_accuracy_vs_tokens,
    progress_bar,
    read_journal,
    run_bench,
    series_styles,
    summarize,
    wilson,
    write_report,
)
from .tasks import TASKS, Task, load_task

__all__ = [
    "JOURNAL", "STRATEGY_METRICS", "BenchConfig", "locked", "pareto_frontier", "parse_strategies",
    "plot_accuracy_vs_tokens", "progress_bar", "read_journal", "run_bench", "series_styles", "summarize",
    "wilson", "write_report", "TASKS", "Task", "load_task",
]
