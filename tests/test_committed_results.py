"""Every committed benchmark table is what its journal gives, with no model call.

A results folder under ``benchmarks/results`` holds a run's journal (``results.jsonl``) beside the
table and plot made from it; ``benchmarks/replot.py`` rebuilds them. This test rebuilds each one
into a scratch folder and compares: a table edited by hand, or left behind by an older report,
fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoners import ConfigError
from reasoners.bench import JOURNAL, read_journal, write_report
from reasoners.bench.journal import locked

RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
FOLDERS = sorted(p for p in RESULTS.iterdir() if (p / JOURNAL).is_file())


def running(folder: Path) -> bool:
    """A ``reasoners bench`` is writing to the folder now (it holds the folder's lock)."""
    try:
        with locked(folder):
            return False
    except ConfigError:
        return True


def test_there_are_committed_runs():
    assert len(FOLDERS) >= 5


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_a_committed_table_reproduces_from_its_journal(folder: Path, tmp_path: Path):
    if running(folder):
        pytest.skip(f"a bench run is writing to {folder.name} now")
    summary = folder / "summary.md"
    assert summary.is_file(), f"{folder.name} has a journal but no summary.md (run benchmarks/replot.py)"
    committed = summary.read_text(encoding="utf-8")
    write_report(read_journal(folder / JOURNAL), tmp_path, title=committed.splitlines()[0].removeprefix("# "))
    assert (tmp_path / "summary.md").read_text(encoding="utf-8") == committed
    assert (tmp_path / "accuracy_vs_tokens.png").is_file() == (folder / "accuracy_vs_tokens.png").is_file()
