"""``reasoners cache merge``: the entries of several cache files copied into one."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.errors import ReasonersError
from ..llm.cache import Cache


def add(sub: Any) -> None:
    """The ``cache`` command and its arguments."""
    cache = sub.add_parser("cache", help="cache files: merge")
    cache_sub = cache.add_subparsers(dest="cache_command", required=True)
    merge = cache_sub.add_parser("merge", help="copy the entries of cache files into one (e.g. Ray workers' caches)")
    merge.add_argument("target", type=Path)
    merge.add_argument("sources", type=Path, nargs="+")
    cache.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
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
