"""``reasoners serve``: the OpenAI-compatible server."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.errors import ReasonersError
from ..llm.local import DEFAULT_MODEL


def add(sub: Any) -> None:
    """The ``serve`` command and its arguments."""
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
    serve.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    import os

    from ..server import ServerConfig, serve

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
