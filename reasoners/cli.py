"""The ``reasoners`` command.

``reasoners run "QUESTION"`` answers one question with a strategy on a model
(the embedded SmolLM2 by default) and prints the answer, its confidence and
what it cost. Errors print one line and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from .budget import Budget
from .errors import ReasonersError
from .llm.cache import Cache, default_cache_path
from .problem import Problem
from .strategies import REGISTRY

__all__ = ["main"]

DEFAULT_MODEL = "local/smollm2"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reasoners", description="Inference-time reasoning strategies.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="answer one question with a strategy")
    run.add_argument("question")
    run.add_argument("--strategy", default="cot", help=f"one of: {', '.join(sorted(REGISTRY))} (default cot)")
    run.add_argument("--model", default=DEFAULT_MODEL, help=f"litellm model string (default {DEFAULT_MODEL})")
    run.add_argument("--api-base", help="base URL of an OpenAI-compatible server")
    run.add_argument("--kind", default="number", choices=["number", "choice", "text", "code"],
                     help="answer kind (default number)")
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
    run.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    run.add_argument("--json", action="store_true", help="print the Result as JSON")
    return p


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


def _run(args: argparse.Namespace) -> int:
    from .llm.client import LLM

    if args.strategy not in REGISTRY:
        raise ReasonersError(f"unknown strategy {args.strategy!r}; choose from: {', '.join(sorted(REGISTRY))}")
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
    problem = Problem(args.question, kind=args.kind, choices=args.choices)
    strategy = REGISTRY[args.strategy]()
    result = strategy.run(problem, llm=llm, budget=budget, seed=args.seed)
    if args.trace is not None:
        args.trace.write_text(json.dumps(result.trace, indent=2), encoding="utf-8")
    if args.json:
        out: dict[str, Any] = result.to_dict()
        out.pop("trace", None)
        print(json.dumps(out, indent=2))
    else:
        u = result.usage
        print(f"answer: {result.answer}")
        print(f"confidence: {result.confidence:.3f}")
        print(
            f"usage: {u.calls} calls, {u.total_tokens} tokens ({u.prompt_tokens} prompt + "
            f"{u.completion_tokens} completion), ${u.cost:.6f}, {u.cache_hits} cache hits"
        )
        if result.exhausted:
            print("budget exhausted before the strategy finished")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
    except ReasonersError as e:
        print(f"reasoners: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("reasoners: interrupted", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
