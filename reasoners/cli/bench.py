"""``reasoners bench``: strategies compared on a task at equal compute, journaled and resumable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.errors import ReasonersError
from ..llm.cache import Cache
from ..llm.local import DEFAULT_MODEL
from .common import check_sampling, send_trace


def add(sub: Any) -> None:
    """The ``bench`` command and its arguments."""
    bench = sub.add_parser("bench", help="compare strategies on a task at equal compute", epilog=_tasks_help(),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--task", required=True, help="a task name (listed below), with loader options as "
                       "name(key=value,...)")
    bench.add_argument("--data", type=Path, help="read the task from this file instead of its package")
    bench.add_argument("--strategies", default="cot", help='comma-separated, e.g. "cot,sc:8,bon:4"')
    bench.add_argument("--model", default=DEFAULT_MODEL)
    bench.add_argument("--api-base")
    bench.add_argument("--limit", type=int, help="first N problems")
    bench.add_argument("--budget-tokens-per-problem", type=int, help="the same token budget for every strategy")
    bench.add_argument("--budgets", help="several per-problem token budgets, comma-separated (for the plot)")
    bench.add_argument("--allocate", choices=["uniform", "adaptive"],
                       help="one total budget per strategy over all problems (self-consistency): uniform splits "
                            "it evenly, adaptive samples more where the votes disagree")
    bench.add_argument("--total-budget-tokens", type=int, help="the total token budget per strategy for --allocate")
    bench.add_argument("--temperature", type=float, default=0.0)
    bench.add_argument("--max-tokens", type=int, default=640)
    bench.add_argument("--otel", action="store_true",
                       help="send each run's trace as OpenTelemetry spans (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME)")
    bench.add_argument("--concurrency", type=int, help="problems in flight (default 1 for local models, else 8)")
    bench.add_argument("--keep-errors", action="store_true",
                       help="on resume, keep error rows as they are (by default those problems run again)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--out", type=Path, required=True, help="folder for the journal, cache, table and plot")
    bench.add_argument("--executor", choices=["local", "ray"], default="local",
                       help="run the cells here (default) or as Ray tasks")
    bench.add_argument("--ray-address", help="the Ray cluster: auto, or ray://host:port (default: a local Ray)")
    bench.add_argument("--ray-num-cpus-per-cell", type=float, default=1.0)
    bench.add_argument("--ray-num-gpus-per-cell", type=float, default=0.0)
    bench.add_argument("--cache-dir", type=Path, help="where Ray workers keep their cache files (default: OUT/worker-caches)")

    bench.add_argument("--behaviors", action="store_true",
                       help="count reasoning behaviours in every sample (lexical classifier): columns in the summary "
                            "and behaviors.json")
    bench.set_defaults(handler=main)


def _tasks_help() -> str:
    from ..bench.tasks import TASKS

    lines = []
    for name, loader in sorted(TASKS.items()):
        doc = (loader.__doc__ or "").strip().splitlines()
        lines.append(f"  {name:<20} {doc[0] if doc else ''}")
    return "tasks:\n" + "\n".join(lines)


_MANIFEST_FLAGS = {"task": "--task", "model": "--model", "limit": "--limit", "data": "--data", "seed": "--seed",
                   "api_base": "--api-base", "temperature": "--temperature", "max_tokens": "--max-tokens"}


def _same_settings(out: Path, manifest: Any) -> None:
    """A resume must run as the run it resumes: journal rows of two settings would be mixed."""
    from dataclasses import asdict

    from ..bench.analyze import RunManifest

    try:
        before = RunManifest.load(out)
    except ReasonersError:
        return  # an old folder without run.json: nothing to compare
    old, new = asdict(before), asdict(manifest)
    old.update(old.pop("llm") or {})
    new.update(new.pop("llm") or {})
    for key, flag in _MANIFEST_FLAGS.items():
        if old.get(key) != new.get(key):
            raise ReasonersError(f"{out} holds a run with {flag} {old.get(key)!r}, not {new.get(key)!r}; resume "
                                 f"it with the same {flag}, or give another --out")


def main(args: argparse.Namespace) -> int:
    import asyncio

    from ..bench import (
        BenchConfig,
        parse_strategies,
        progress_bar,
        run_bench,
        write_report,
    )
    from ..bench.analyze import RunManifest
    from ..bench.tasks import load_task
    from ..llm.client import LLM

    strategies = parse_strategies(args.strategies)
    if (args.allocate is None) != (args.total_budget_tokens is None):
        raise ReasonersError("--allocate and --total-budget-tokens go together")
    if args.allocate is not None:
        if args.budgets or args.budget_tokens_per_problem is not None:
            raise ReasonersError("--total-budget-tokens replaces --budgets and --budget-tokens-per-problem; give one")
        if args.total_budget_tokens < 1:
            raise ReasonersError(f"--total-budget-tokens must be >= 1; got {args.total_budget_tokens}")
        from ..strategies.sampling import Voting

        for spec, strategy in strategies:
            if not isinstance(strategy, Voting):
                raise ReasonersError(f"--allocate draws the samples of a voting strategy; {spec!r} is not "
                                     "(use sc, sc:N, deepconf)")
        budgets: list[int | None] = [args.total_budget_tokens]
    elif args.budgets is not None:
        try:
            budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
        except ValueError as e:
            raise ReasonersError(f"--budgets takes whole numbers separated by commas; got {args.budgets!r}") from e
        if not budgets or any(b is not None and b < 1 for b in budgets):
            raise ReasonersError(f"--budgets takes token budgets >= 1 separated by commas; got {args.budgets!r}")
    else:
        budgets = [args.budget_tokens_per_problem]
    if args.concurrency is not None and args.concurrency < 1:
        raise ReasonersError(f"--concurrency must be >= 1; got {args.concurrency}")
    if args.budget_tokens_per_problem is not None and args.budget_tokens_per_problem < 1:
        raise ReasonersError(f"--budget-tokens-per-problem must be >= 1; got {args.budget_tokens_per_problem}")
    check_sampling(args)
    if args.out.exists() and not args.out.is_dir():
        raise ReasonersError(f"--out {args.out} is a file; give a folder for the journal, cache, table and plot")
    task = load_task(args.task, path=args.data, limit=args.limit)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReasonersError(f"cannot make the --out folder {args.out}: {e.strerror or e}") from None
    llm = LLM(
        args.model,
        api_base=args.api_base,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        cache=Cache(args.out / "cache.sqlite"),
    )
    concurrency = args.concurrency or (1 if args.model.startswith("local/") else 8)
    executor = None
    if args.executor == "ray":
        if args.allocate is not None:
            raise ReasonersError("--allocate runs each batch in one process; it does not take --executor ray")
        from ..bench.distributed import RayExecutor

        executor = RayExecutor(address=args.ray_address, num_cpus=args.ray_num_cpus_per_cell,
                               num_gpus=args.ray_num_gpus_per_cell,
                               cache_dir=str(args.cache_dir) if args.cache_dir else None)
    provider = None
    if args.otel:
        if executor is not None or args.allocate is not None:
            raise ReasonersError("--otel sends each run of this process; it does not take --executor ray or --allocate")
        from ..integrations.otel import configured_provider

        provider = configured_provider()
    config = BenchConfig(task, strategies, llm, args.out, budgets, seed=args.seed, concurrency=concurrency,
                         keep_errors=args.keep_errors, allocate=args.allocate, executor=executor,
                         export=(lambda result: send_trace(result, provider)) if provider is not None else None)
    manifest = RunManifest(task=args.task, model=args.model, limit=args.limit,
                           data=str(args.data) if args.data else None, seed=args.seed,
                           llm={"api_base": args.api_base, "temperature": args.temperature,
                                "max_tokens": args.max_tokens})
    from ..bench.journal import JOURNAL, locked

    with locked(args.out):  # before anything is written: a second run on this folder changes nothing
        if (args.out / JOURNAL).is_file():
            _same_settings(args.out, manifest)
        manifest.save(args.out)
        with progress_bar(task.name) as progress:
            rows = asyncio.run(run_bench(config, progress=progress, held=True))
    if provider is not None:
        provider.force_flush()
        provider.shutdown()
    title = f"{task.name}, {len(task.problems)} problems, {args.model}"
    behaviors = None
    if args.behaviors:
        from ..bench.analyze import analyze_rows_to
        from ..bench.behaviors import LexicalClassifier

        behaviors = asyncio.run(analyze_rows_to(args.out, rows, LexicalClassifier()))
    for t in write_report(rows, args.out, title=title, behaviors=behaviors):
        print(
            f"{t['strategy']:>12} budget={t['budget'] or 'none'}: accuracy {t['accuracy']:.1%} "
            f"[{t['ci95'][0]:.1%}, {t['ci95'][1]:.1%}], {t['mean_tokens']:.0f} tokens, "
            f"{t['mean_calls']:.1f} calls, hit budget {t['hit_budget']:.0%}"
            + (f", {t['errors']} errors (not counted as wrong; rerun to retry them)" if t["errors"] else "")
        )
    if behaviors is not None:
        from ..bench.analyze import format_table

        print(format_table(behaviors))
    print(f"wrote {args.out / 'summary.md'} and {args.out / 'accuracy_vs_tokens.png'}"
          + (f", {args.out / 'behaviors.json'}" if behaviors is not None else ""))
    failed = [r for r in rows if r.get("error")]
    if rows and len(failed) == len(rows):  # nothing was answered: not a result, whatever the table says
        kinds = sorted({f"{r['error'].get('type')}: {r['error'].get('message', '')[:120]}" for r in failed})
        print(f"reasoners: error: all {len(rows)} runs failed ({'; '.join(kinds[:3])}); rerun to retry them",
              file=sys.stderr)
        return 1
    return 0
