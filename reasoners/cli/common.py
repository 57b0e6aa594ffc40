"""What the commands share: the package version, the sampling flags' checks, trace files and their export."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.errors import ReasonersError
from ..core.problem import Result


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reasoners-toolkit")
    except PackageNotFoundError:
        return "unknown (not installed)"


def trace_file(result: Result) -> dict[str, Any]:
    """What ``--trace`` writes: the call tree, with the result it led to (for ``reasoners trace view``)."""
    summary = result.to_dict()
    summary.pop("trace", None)
    return {**(result.trace or {}), "version": 1, "result": summary}


def send_trace(result: Result, provider: Any) -> None:
    """A run's trace, with its result, as OpenTelemetry spans through ``provider``."""
    from ..integrations.otel import export_trace

    summary = result.to_dict()
    summary.pop("trace", None)
    export_trace(result.trace or {}, tracer_provider=provider, result=summary)


def export_otel(result: Result) -> None:
    from ..integrations.otel import configured_provider

    provider = configured_provider()
    send_trace(result, provider)
    provider.force_flush()
    provider.shutdown()


def check_sampling(args: argparse.Namespace) -> None:
    """The sampling flags a run and a bench share, checked before anything is made or spent."""
    import math

    if args.temperature is not None and (not math.isfinite(args.temperature) or args.temperature < 0):
        raise ReasonersError(f"--temperature: temperature must be >= 0 and finite; got {args.temperature}")
    if args.max_tokens is not None and args.max_tokens < 1:
        raise ReasonersError(f"--max-tokens: max_tokens must be >= 1; got {args.max_tokens}")


def check_trace_path(path: Path) -> None:
    """Fail before any model call if the trace cannot be written."""
    try:
        existed = path.exists()
        with path.open("a", encoding="utf-8"):
            pass
        if not existed:
            path.unlink()
    except OSError as e:
        raise ReasonersError(f"cannot write trace file {path}: {e.strerror or e}") from e
