"""``reasoners analyze``: reasoning behaviours counted in a bench folder or a trace."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.budget import Budget
from ..core.errors import ReasonersError
from ..llm.cache import Cache
from ..llm.local import DEFAULT_MODEL


def add(sub: Any) -> None:
    """The ``analyze`` command and its arguments."""
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
    analyze.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    import asyncio

    from ..bench.analyze import analyze_folder, analyze_trace, format_table, journal_of
    from ..bench.behaviors import classifier_named

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
        from ..llm.client import LLM

        llm = LLM(args.model, api_base=args.api_base, cache=Cache(args.cache or where / "behaviors_cache.sqlite"))
    classifier = classifier_named(args.classifier, llm)
    budget = Budget(tokens=args.budget_tokens) if args.budget_tokens else None
    if args.trace is not None:
        table = asyncio.run(analyze_trace(args.trace, classifier, budget=budget))
    else:
        from ..bench import progress_bar

        with progress_bar("classify") as progress:
            table = asyncio.run(analyze_folder(args.path, classifier, budget=budget, progress=progress))
    print(format_table(table))
    print(f"wrote {where / 'behaviors.json'} and {where / 'behaviors.png'}")
    return 0
