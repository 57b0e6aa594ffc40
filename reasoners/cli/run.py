"""``reasoners run``: one question, one strategy, the answer with what it cost (and live progress on a terminal)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..answers import infer_kind
from ..core.budget import Budget
from ..core.errors import ReasonersError
from ..core.problem import Problem, Result
from ..llm.cache import Cache, default_cache_path
from ..llm.local import DEFAULT_MODEL
from ..strategies import REGISTRY
from .common import check_sampling, check_trace_path, export_otel, trace_file


def add(sub: Any) -> None:
    """The ``run`` command and its arguments."""
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
    run.set_defaults(handler=main)


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


def main(args: argparse.Namespace) -> int:
    from ..llm.client import LLM
    from ..spec import parse_spec

    if args.pipeline is None and args.strategy not in REGISTRY:
        raise ReasonersError(f"unknown strategy {args.strategy!r}; choose from: {', '.join(sorted(REGISTRY))}")
    if args.pipeline is not None and not args.pipeline.strip():
        raise ReasonersError("--pipeline is empty; give a spec such as \"sc(n=8) | trlm\" or leave it out")
    strategy = parse_spec(args.pipeline if args.pipeline is not None else args.strategy)
    check_sampling(args)
    for flag, value in (("--budget-tokens", args.budget_tokens), ("--budget-calls", args.budget_calls)):
        if value is not None and value < 1:
            raise ReasonersError(f"{flag} must be >= 1; got {value}")
    for flag, value in (("--budget-cost", args.budget_cost), ("--budget-seconds", args.budget_seconds)):
        if value is not None and not (value > 0 and value != float("inf")):
            raise ReasonersError(f"{flag} must be a number above 0; got {value}")
    if args.trace is not None:
        check_trace_path(args.trace)
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
    from ..core.sync import run_sync
    from ..core.trace import Trace

    progress = _Progress(budget) if not args.json and sys.stderr.isatty() else None
    trace = Trace(strategy.name, model=llm.model, seed=args.seed, listener=progress)
    async def prepare_and_run() -> Result:
        meter = budget.meter()  # preparing and answering share the one budget
        ready, prepared = await strategy.aprepared(llm=llm, budget=meter, seed=args.seed)
        result = await ready.arun(problem, llm=llm, budget=meter, seed=args.seed, trace=trace)
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
        args.trace.write_text(json.dumps(trace_file(result), indent=2), encoding="utf-8")
    if args.otel:
        export_otel(result)
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
