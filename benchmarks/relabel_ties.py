"""Relabel best-of-N rows in committed journals to the tie rule they ran with.

Best-of-N's default tie rule changed from ``ties="first"`` to ``ties="vote"``. The
journals key rows by spec string, so a row labelled ``bon(n=8,scorer=judge)`` made
before the change would be taken, on resume, for a run of the new default. This
rewrites every such label to the old setting made explicit (``...,ties=first)``),
then rebuilds each folder's summary.md/json and plot from its journal (no model
call). Idempotent: labels that name ``ties`` already are left alone.

    .venv/bin/python benchmarks/relabel_ties.py benchmarks/results/*/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reasoners.bench import JOURNAL, write_report


def relabel(spec: str) -> str:
    """``bon(...)`` without a ``ties=`` argument gets ``ties=first`` as its last argument."""
    if not spec.startswith("bon(") or "ties=" in spec or not spec.endswith(")"):
        return spec
    return spec[:-1] + ",ties=first)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    for folder in parser.parse_args().folders:
        journal = folder / JOURNAL
        if not journal.is_file():
            continue
        lines = journal.read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        changed = 0
        for row in rows:
            new = relabel(row["strategy"])
            changed += new != row["strategy"]
            row["strategy"] = new
        if not changed:
            print(f"{folder}: nothing to relabel")
            continue
        journal.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        summary = folder / "summary.md"
        title = summary.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ") if summary.is_file() else folder.name
        write_report(rows, folder, title=title)
        print(f"{folder}: relabelled {changed} rows; summary rebuilt")


if __name__ == "__main__":
    main()
