"""The bench's journal: one JSON line per (strategy, budget, problem), written as each finishes,
read back with a torn last line cut off, and the lock that lets one run at a time write a folder.
Together with the model-call cache beside it, the journal is what makes a killed run resume."""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError

log = logging.getLogger(__name__)

__all__ = ["JOURNAL", "PREPARED", "STRATEGY_METRICS", "journal_key", "locked", "read_journal"]

JOURNAL = "results.jsonl"
PREPARED = "prepare.jsonl"
STRATEGY_METRICS = ("pass_at_1", "saved", "kept", "cut", "threshold")
"""Numbers a strategy reports in ``result.metadata`` that the journal keeps as metrics (CodeChain's pass@1;
the samples early stopping saved; DeepConf's traces kept, cut, and its online threshold)."""


def journal_key(spec: str, budget: int | None, problem_id: str) -> str:
    return f"{spec}|{budget}|{problem_id}"


def read_journal(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """Journal rows, the last row per (strategy, budget, problem) winning (a rerun of an error row
    replaces it). A torn last line (a kill mid-write) is skipped, and with ``repair`` cut off the
    file, so the next row starts on a line of its own; either way a warning says so."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty unless the last write was torn
    rows: dict[str, dict[str, Any]] = {}
    for i, line in enumerate([*lines, tail] if tail else lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows[journal_key(row["strategy"], row["budget"], row["problem_id"])] = row
            if line is tail and repair:  # a whole row without its newline: end it, so the next row starts apart
                with path.open("ab") as f:
                    f.write(b"\n")
        except (ValueError, KeyError, TypeError):
            if i < len(lines):
                log.warning("%s: line %d is not a journal row; skipped", path, i + 1)
            else:
                log.warning("%s: the last line was torn (%d bytes, a run killed mid-write)%s", path, len(tail),
                            "; cut off" if repair else "; skipped")
                if repair:
                    with path.open("r+b") as f:
                        f.truncate(len(data) - len(tail))
    return list(rows.values())


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold the output folder for one run: a second run on the same folder fails at once."""
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another reasoners bench is writing to {out}; wait for it or choose another --out") from None
        yield
    finally:
        os.close(fd)
