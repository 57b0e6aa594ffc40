"""Rebuild every committed summary and plot from its journal, with no model call.

    .venv/bin/python benchmarks/replot.py benchmarks/results/*/

Each folder's title (task, problem count, model) is kept from its summary.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reasoners.bench import JOURNAL, read_journal, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    for folder in parser.parse_args().folders:
        if not (folder / JOURNAL).is_file():
            continue
        summary = folder / "summary.md"
        title = summary.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ") if summary.is_file() else folder.name
        write_report(read_journal(folder / JOURNAL), folder, title=title)
        print(f"{folder}: {folder / 'accuracy_vs_tokens.png'}")


if __name__ == "__main__":
    main()
