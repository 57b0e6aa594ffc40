"""The ``reasoners`` command.

``reasoners run "QUESTION"`` answers one question with a strategy on a model
(the embedded Qwen2.5-Coder-1.5B by default: ``make install-qwen``) and prints the
answer, its confidence and what it cost, with live progress on a terminal.
Errors print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from .answers import infer_kind
from .budget import Budget
from .errors import ReasonersError
from .llm.cache import Cache, default_cache_path
from .llm.local import DEFAULT_MODEL
from .problem import Problem, Result
from .strategies import REGISTRY

__all__ = ["main"]



def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reasoners-toolkit")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _tasks_help() -> str:
    from .bench.tasks import TASKS

    lines = []
    for name, loader in sorted(TASKS.items()):
        doc = (loader.__doc__ or "").strip().splitlines()
        lines.append(f"  {name:<20} {doc[0] if doc else ''}")
    return "tasks:\n" + "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reasoners", description="Inference-time reasoning strategies.")
    p.add_argument("--version", action="version", version=f"reasoners {_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="answer one question with a strategy")
    run.add_argument("question")
    run.add_argument("--strategy", default="cot", help=f"one of: {', '.join(sorted(REGISTRY))} (default cot)")
    run.add_argument("--pipeline", help='a spec such as "sc(n=8,base=cot(max_tokens=200)) | trlm" (overrides --strategy)')
    run.add_argument("--model", default=DEFAULT_MODEL, help=f"litellm model string (default {DEFAULT_MODEL})")
    run.add_argument("--api-base", help="base URL of an OpenAI-compatible server")
    run.add_argument("--kind", default=None, choices=["number", "choice", "text", "code"],
                     help="answer kind (default: inferred from the question; choice when --choice is given)")
    run.add_argument("--choice", action="append", default=[], dest="choices", help="an option (repeat) for --kind choice")
    run.add_argument("--temperature", type=float, default=0.0)
    run.add_argument("--max-tokens", type=int, default=512)
    run.add_argument("--budget-tokens", type=int)
    run.add_argument("--budget-calls", type=int)
    run.add_argument("--budget-cost", type=float, help="USD")
    run.add_argument("--budget-seconds", type=float)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--trace", type=Path, help="write the run's call tree as JSON here")
    run.add_argument("--cache", type=Path, help=f"cache file (default {default_cache_path()})")
    run.add_argument("--otel", action="store_true",
                     help="send the run's trace as OpenTelemetry spans (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME)")
    run.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    run.add_argument("--json", action="store_true", help="print the Result as JSON (no progress line)")

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

    analyze = sub.add_parser("analyze", help="count reasoning behaviours (verification, backtracking, subgoal "
                             "setting, backward chaining) in a bench folder or a trace")
    analyze.add_argument("path", type=Path, nargs="?", help="a bench output folder (journal + cache)")
    analyze.add_argument("--trace", type=Path, help="a trace JSON (reasoners run --trace) instead of a folder")
    analyze.add_argument("--classifier", choices=["lexical", "llm"], default="lexical",
                         help="lexical patterns (default, no model) or a model asked per behaviour")
    analyze.add_argument("--model", default=DEFAULT_MODEL, help=f"the llm classifier's model (default {DEFAULT_MODEL})")
    analyze.add_argument("--api-base", help="base URL of an OpenAI-compatible server for the llm classifier")
    analyze.add_argument("--budget-tokens", type=int, help="tokens the llm classifier may spend in all")
    analyze.add_argument("--cache", type=Path,
                         help="the llm classifier's cache (default: behaviors_cache.sqlite beside the output)")

    trace = sub.add_parser("trace", help="traces: view one as a web page")
    trace_sub = trace.add_subparsers(dest="trace_command", required=True)
    view = trace_sub.add_parser("view", help="write a self-contained HTML page of a trace file or a bench folder")
    view.add_argument("path", type=Path, help="a --trace file, or a bench folder")
    view.add_argument("-o", "--out", type=Path, help="the page to write (default: beside it, .html)")

    cache = sub.add_parser("cache", help="cache files: merge")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    merge = cache_sub.add_parser("merge", help="copy the entries of cache files into one (e.g. Ray workers' caches)")
    merge.add_argument("target", type=Path)
    merge.add_argument("sources", type=Path, nargs="+")
    serve = sub.add_parser("serve", help="an OpenAI-compatible server that runs any strategy per request")
    serve.add_argument("--model", action="append", dest="models",
                       help=f"an upstream model to serve (repeat; the first is the default; default {DEFAULT_MODEL})")
    serve.add_argument("--api-base", help="base URL of an OpenAI-compatible upstream server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--strategy", default="cot", help="the spec run when a request names none (default cot)")
    serve.add_argument("--api-key", action="append", dest="api_keys", default=[],
                       help="a key clients must send as Authorization: Bearer (repeat; or "
                            "REASONERS_SERVER_API_KEYS, comma-separated)")
    serve.add_argument("--max-budget-tokens", type=int, default=32_000,
                       help="the token budget of a request that names none, and the most one may ask for")
    serve.add_argument("--concurrency", type=int, default=4, help="runs at once (default 4)")
    serve.add_argument("--max-queue", type=int, default=64, help="requests waiting beyond those (default 64)")
    serve.add_argument("--cache", type=Path, help="a cache file (default: no cache)")
    serve.add_argument("--upstream-concurrency", type=int, default=64,
                       help="upstream calls in flight per model, over all runs (default 64)")
    serve.add_argument("--otel", action="store_true",
                       help="send every run's trace as OpenTelemetry spans (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME)")
    serve.add_argument("--share-cache", action="store_true",
                       help="let API keys share cached calls (default: each key has its own)")
    serve.add_argument("--allow-code", action="store_true",
                       help="allow strategies that run model-written code (codechain, bon(scorer=tests))")
    serve.add_argument("--max-sandboxes", type=int, default=2, help="sandboxed code runs at once (default 2)")
    serve.add_argument("--body-seconds", type=float, default=10.0,
                       help="a request body must arrive within this many seconds (default 10)")
    serve.add_argument("--prepare-budget-tokens", type=int,
                       help="what preparing the default strategy may spend at start-up (default: --max-budget-tokens)")
    serve.add_argument("--upstream-timeout", type=float, default=120.0,
                       help="seconds an upstream call may take before it is retried or fails (default 120)")
    return p


def _serve(args: argparse.Namespace) -> int:
    import os

    from .server import ServerConfig, serve

    keys = list(args.api_keys) + [k.strip() for k in os.environ.get("REASONERS_SERVER_API_KEYS", "").split(",")
                                  if k.strip()]
    config = ServerConfig(models=args.models or [DEFAULT_MODEL], api_base=args.api_base, strategy=args.strategy,
                          api_keys=keys, max_budget_tokens=args.max_budget_tokens, concurrency=args.concurrency,
                          max_queue=args.max_queue, cache=str(args.cache) if args.cache else None,
                          upstream_timeout=args.upstream_timeout, upstream_concurrency=args.upstream_concurrency,
                          share_cache=args.share_cache, allow_code=args.allow_code, max_sandboxes=args.max_sandboxes,
                          body_seconds=args.body_seconds, prepare_budget_tokens=args.prepare_budget_tokens,
                          otel=args.otel)
    if not 0 < args.port < 65536:
        raise ReasonersError(f"--port must be between 1 and 65535; got {args.port}")
    serve(config, host=args.host, port=args.port)
    return 0


def _trace_file(result: Result) -> dict[str, Any]:
    """What ``--trace`` writes: the call tree, with the result it led to (for ``reasoners trace view``)."""
    summary = result.to_dict()
    summary.pop("trace", None)
    return {**(result.trace or {}), "version": 1, "result": summary}


def _send(result: Result, provider: Any) -> None:
    """A run's trace, with its result, as OpenTelemetry spans through ``provider``."""
    from .integrations.otel import export_trace

    summary = result.to_dict()
    summary.pop("trace", None)
    export_trace(result.trace or {}, tracer_provider=provider, result=summary)


def _export_otel(result: Result) -> None:
    from .integrations.otel import configured_provider

    provider = configured_provider()
    _send(result, provider)
    provider.force_flush()
    provider.shutdown()


def _trace(args: argparse.Namespace) -> int:
    from .integrations.viewer import page_for

    page = page_for(args.path)
    out = args.out or (args.path / "trace.html" if args.path.is_dir() else args.path.with_suffix(".html"))
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as e:
        raise ReasonersError(f"cannot write {out}: {e.strerror or e}") from None
    print(f"wrote {out}")
    return 0


def _check_sampling(args: argparse.Namespace) -> None:
    """The sampling flags a run and a bench share, checked before anything is made or spent."""
    import math

    if args.temperature is not None and (not math.isfinite(args.temperature) or args.temperature < 0):
        raise ReasonersError(f"--temperature: temperature must be >= 0 and finite; got {args.temperature}")
    if args.max_tokens is not None and args.max_tokens < 1:
        raise ReasonersError(f"--max-tokens: max_tokens must be >= 1; got {args.max_tokens}")


_MANIFEST_FLAGS = {"task": "--task", "model": "--model", "limit": "--limit", "data": "--data", "seed": "--seed",
                   "api_base": "--api-base", "temperature": "--temperature", "max_tokens": "--max-tokens"}


def _same_settings(out: Path, manifest: Any) -> None:
    """A resume must run as the run it resumes: journal rows of two settings would be mixed."""
    from dataclasses import asdict

    from .bench.analyze import RunManifest

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


def _check_trace_path(path: Path) -> None:
    """Fail before any model call if the trace cannot be written."""
    try:
        existed = path.exists()
        with path.open("a", encoding="utf-8"):
            pass
        if not existed:
            path.unlink()
    except OSError as e:
        raise ReasonersError(f"cannot write trace file {path}: {e.strerror or e}") from e


class _Progress:
    """A live line on a terminal's stderr: model calls done and tokens used (of the budget)."""

    def __init__(self, budget: Budget) -> None:
        self.budget, self.calls, self.tokens, self.shown = budget, 0, 0, False

    def __call__(self, span: Any) -> None:
        if span.kind not in ("llm", "score"):
            return
        self.calls += 1
        self.tokens += span.usage.total_tokens if span.usage else 0
        limit = f" of {self.budget.tokens}" if self.budget.tokens is not None else ""
        sys.stderr.write(f"\r{self.calls} model calls, {self.tokens}{limit} tokens")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _run(args: argparse.Namespace) -> int:
    from .llm.client import LLM

    from .spec import parse_spec

    if args.pipeline is None and args.strategy not in REGISTRY:
        raise ReasonersError(f"unknown strategy {args.strategy!r}; choose from: {', '.join(sorted(REGISTRY))}")
    if args.pipeline is not None and not args.pipeline.strip():
        raise ReasonersError("--pipeline is empty; give a spec such as \"sc(n=8) | trlm\" or leave it out")
    strategy = parse_spec(args.pipeline if args.pipeline is not None else args.strategy)
    _check_sampling(args)
    for flag, value in (("--budget-tokens", args.budget_tokens), ("--budget-calls", args.budget_calls)):
        if value is not None and value < 1:
            raise ReasonersError(f"{flag} must be >= 1; got {value}")
    for flag, value in (("--budget-cost", args.budget_cost), ("--budget-seconds", args.budget_seconds)):
        if value is not None and not (value > 0 and value != float("inf")):
            raise ReasonersError(f"{flag} must be a number above 0; got {value}")
    if args.trace is not None:
        _check_trace_path(args.trace)
    budget = Budget(
        tokens=args.budget_tokens, calls=args.budget_calls, cost=args.budget_cost, seconds=args.budget_seconds
    )
    cache = None if args.no_cache else Cache(args.cache or default_cache_path())
    llm = LLM(
        args.model,
        api_base=args.api_base,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        cache=cache,
    )
    kind = args.kind or infer_kind(args.question, args.choices)
    problem = Problem(args.question, kind=kind, choices=args.choices)
    from ._sync import run_sync
    from .trace import Trace

    progress = _Progress(budget) if not args.json and sys.stderr.isatty() else None
    trace = Trace(strategy.name, model=llm.model, seed=args.seed, listener=progress)
    async def prepare_and_run() -> Result:
        ready, prepared = await strategy.aprepared(llm=llm, budget=budget, seed=args.seed)
        result = await ready.arun(problem, llm=llm, budget=budget, seed=args.seed, trace=trace)
        if prepared.usage.calls:  # one question: preparing (AutoCoT's demos) is part of its cost
            result.usage = result.usage + prepared.usage
            result.metadata["prepare_usage"] = prepared.usage.to_dict()
        return result

    try:
        result = run_sync(prepare_and_run(), async_name="arun")
    finally:
        if progress is not None:
            progress.close()
    if args.trace is not None:
        args.trace.write_text(json.dumps(_trace_file(result), indent=2), encoding="utf-8")
    if args.otel:
        _export_otel(result)
    if args.json:
        out: dict[str, Any] = result.to_dict()
        out.pop("trace", None)
        print(json.dumps(out, indent=2))
    else:
        u = result.usage
        print(f"answer: {result.answer}")
        if result.answer is None and result.metadata.get("no_answer"):
            print(f"no answer: {result.metadata['no_answer']}")
        print(f"confidence: {result.confidence:.3f}")
        print(
            f"usage: {u.calls} calls, {u.total_tokens} tokens ({u.prompt_tokens} prompt + "
            f"{u.completion_tokens} completion), ${u.cost:.6f}, {u.cache_hits} cache hits"
        )
        if result.exhausted:
            print("budget exhausted before the strategy finished")
    return 0


def _bench(args: argparse.Namespace) -> int:
    import asyncio

    from .bench import BenchConfig, parse_strategies, progress_bar, run_bench, write_report
    from .bench.analyze import RunManifest
    from .bench.tasks import load_task
    from .llm.client import LLM

    strategies = parse_strategies(args.strategies)
    if (args.allocate is None) != (args.total_budget_tokens is None):
        raise ReasonersError("--allocate and --total-budget-tokens go together")
    if args.allocate is not None:
        if args.budgets or args.budget_tokens_per_problem is not None:
            raise ReasonersError("--total-budget-tokens replaces --budgets and --budget-tokens-per-problem; give one")
        if args.total_budget_tokens < 1:
            raise ReasonersError(f"--total-budget-tokens must be >= 1; got {args.total_budget_tokens}")
        from .strategies import SelfConsistency

        for spec, strategy in strategies:
            if not isinstance(strategy, SelfConsistency):
                raise ReasonersError(f"--allocate draws the samples of self-consistency; {spec!r} is not (use sc, sc:N)")
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
    _check_sampling(args)
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
        from .bench.distributed import RayExecutor

        executor = RayExecutor(address=args.ray_address, num_cpus=args.ray_num_cpus_per_cell,
                               num_gpus=args.ray_num_gpus_per_cell,
                               cache_dir=str(args.cache_dir) if args.cache_dir else None)
    provider = None
    if args.otel:
        if executor is not None or args.allocate is not None:
            raise ReasonersError("--otel sends each run of this process; it does not take --executor ray or --allocate")
        from .integrations.otel import configured_provider

        provider = configured_provider()
    config = BenchConfig(task, strategies, llm, args.out, budgets, seed=args.seed, concurrency=concurrency,
                         keep_errors=args.keep_errors, allocate=args.allocate, executor=executor,
                         export=(lambda result: _send(result, provider)) if provider is not None else None)
    manifest = RunManifest(task=args.task, model=args.model, limit=args.limit,
                           data=str(args.data) if args.data else None, seed=args.seed,
                           llm={"api_base": args.api_base, "temperature": args.temperature,
                                "max_tokens": args.max_tokens})
    from .bench.harness import JOURNAL, locked

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
        from .behaviors import LexicalClassifier
        from .bench.analyze import analyze_rows_to

        behaviors = asyncio.run(analyze_rows_to(args.out, rows, LexicalClassifier()))
    for t in write_report(rows, args.out, title=title, behaviors=behaviors):
        print(
            f"{t['strategy']:>12} budget={t['budget'] or 'none'}: accuracy {t['accuracy']:.1%} "
            f"[{t['ci95'][0]:.1%}, {t['ci95'][1]:.1%}], {t['mean_tokens']:.0f} tokens, "
            f"{t['mean_calls']:.1f} calls, hit budget {t['hit_budget']:.0%}"
            + (f", {t['errors']} errors (not counted as wrong; rerun to retry them)" if t["errors"] else "")
        )
    if behaviors is not None:
        from .bench.analyze import format_table

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


def _analyze(args: argparse.Namespace) -> int:
    import asyncio

    from .behaviors import classifier_named
    from .bench.analyze import analyze_folder, analyze_trace, format_table, journal_of

    if (args.path is None) == (args.trace is None):
        raise ReasonersError("give a bench folder or --trace FILE (one of them)")
    if args.budget_tokens is not None and args.budget_tokens < 1:
        raise ReasonersError(f"--budget-tokens must be >= 1; got {args.budget_tokens}")
    if args.path is not None and not args.path.is_dir():
        raise ReasonersError(f"no such bench folder: {args.path}")
    if args.path is not None:
        journal_of(args.path)  # before the progress bar: a bad folder gets one line
    where = args.path if args.path is not None else args.trace.parent
    llm = None
    if args.classifier == "llm":
        from .llm.client import LLM

        llm = LLM(args.model, api_base=args.api_base, cache=Cache(args.cache or where / "behaviors_cache.sqlite"))
    classifier = classifier_named(args.classifier, llm)
    budget = Budget(tokens=args.budget_tokens) if args.budget_tokens else None
    if args.trace is not None:
        table = asyncio.run(analyze_trace(args.trace, classifier, budget=budget))
    else:
        from .bench import progress_bar

        with progress_bar("classify") as progress:
            table = asyncio.run(analyze_folder(args.path, classifier, budget=budget, progress=progress))
    print(format_table(table))
    print(f"wrote {where / 'behaviors.json'} and {where / 'behaviors.png'}")
    return 0


def _cache(args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.sources if not p.is_file()]
    if missing:
        raise ReasonersError(f"no such cache file: {missing[0]}")
    import sqlite3

    if args.target.is_dir():
        raise ReasonersError(f"the merge target {args.target} is a folder; give a cache file")
    try:
        added = Cache(args.target).merge(*args.sources)
    except sqlite3.Error as e:
        raise ReasonersError(f"cannot merge into {args.target}: a file is not a reasoners cache ({e})") from None
    print(f"merged {len(args.sources)} cache file(s) into {args.target}: {added} new entries")
    return 0


def main(argv: list[str] | None = None) -> int:
    from .llm.convert import RedactingFilter

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "bench":
            return _bench(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "cache":
            return _cache(args)
        if args.command == "trace":
            return _trace(args)
        if args.command == "analyze":
            return _analyze(args)
    except ReasonersError as e:
        print(f"reasoners: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("reasoners: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a file or folder we were pointed at: say which, in one line
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        print(f"reasoners: error: cannot use{where}: {e.strerror or e}", file=sys.stderr)
        return 2
    except Exception as e:  # a bug of ours: one line, the traceback only when asked for
        if os.environ.get("REASONERS_DEBUG"):
            raise
        print(f"reasoners: internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
              "(set REASONERS_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
