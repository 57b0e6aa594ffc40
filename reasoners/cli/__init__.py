"""The ``reasoners`` command.

``reasoners run "QUESTION"`` answers one question with a strategy on a model
(the embedded Qwen2.5-Coder-1.5B by default: ``make install-qwen``) and prints the
answer, its confidence and what it cost, with live progress on a terminal.
Errors print one line and exit non-zero.

Each command is a module of this package with ``add(sub)`` (its arguments) and ``main(args)``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..core.errors import ReasonersError
from . import analyze, bench, cache, run, serve, trace
from .common import package_version

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reasoners", description="Inference-time reasoning strategies.")
    p.add_argument("--version", action="version", version=f"reasoners {package_version()}")
    sub = p.add_subparsers(dest="command", required=True)
    for command in (run, bench, analyze, trace, cache, serve):
        command.add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from ..llm.convert import RedactingFilter

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    args = _parser().parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
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
