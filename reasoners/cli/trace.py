"""``reasoners trace view``: a trace file or a bench folder as a self-contained web page."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.errors import ReasonersError


def add(sub: Any) -> None:
    """The ``trace`` command and its arguments."""
    trace = sub.add_parser("trace", help="traces: view one as a web page")
    trace_sub = trace.add_subparsers(dest="trace_command", required=True)
    view = trace_sub.add_parser("view", help="write a self-contained HTML page of a trace file or a bench folder")
    view.add_argument("path", type=Path, help="a --trace file, or a bench folder")
    view.add_argument("-o", "--out", type=Path, help="the page to write (default: beside it, .html)")
    trace.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from ..integrations.viewer import page_for

    page = page_for(args.path)
    out = args.out or (args.path / "trace.html" if args.path.is_dir() else args.path.with_suffix(".html"))
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as e:
        raise ReasonersError(f"cannot write {out}: {e.strerror or e}") from None
    print(f"wrote {out}")
    return 0
