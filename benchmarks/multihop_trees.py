"""How the ProbTree runs of a multi-hop journal used their trees: decompositions parsed, and per node
which source each answer came from. Reads the journal only (no model call).

    python benchmarks/multihop_trees.py benchmarks/results/multihop_qwen

Prints, per strategy: exact match and mean F1 over the problems done, and for tree strategies the
parse outcomes and how often a node's chosen answer was closed-book, open-book or child aggregation
(root nodes and sub-questions apart). Writes ``trees.json`` beside the journal.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from reasoners.bench import read_journal


def _kind(note: str | None) -> str:
    """A parse note without its particulars: "parsed", "parsed, root paraphrased", or the fallback's reason."""
    note = note or "none"
    if note.startswith("parsed; root taken from key"):
        return "parsed, root paraphrased"
    if "of another question" in note:
        return "fallback: a decomposition of another question"
    return note.split(":")[0] if note.startswith("parsed") else note.split("(")[0].strip()


def report(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if not row.get("error"):
            by[row["strategy"]].append(row)
    out: dict[str, Any] = {}
    for spec, done in by.items():
        entry: dict[str, Any] = {
            "problems": len(done),
            "em": sum(bool(r.get("correct")) for r in done),
            "mean_f1": round(sum(r.get("metrics", {}).get("f1", 0.0) for r in done) / len(done), 3),
            "mean_tokens": round(sum(r["usage"]["total_tokens"] for r in done) / len(done)),
            "mean_calls": round(sum(r["usage"]["calls"] for r in done) / len(done), 2),
        }
        trees = [r["tree"] for r in done if r.get("tree")]
        if trees:
            entry["parse"] = dict(Counter(_kind(t["parse"]) for t in trees))
            entry["trees_with_children"] = sum(1 for t in trees if len(t["nodes"]) > 1)
            entry["mean_nodes"] = round(sum(len(t["nodes"]) for t in trees) / len(trees), 2)
            roots, subs = Counter(), Counter()
            for t in trees:
                for node in t["nodes"]:
                    (roots if node["id"] == "0" else subs)[node["chosen"] or "none"] += 1
            entry["root_chose"] = dict(roots)
            entry["subquestion_chose"] = dict(subs)
        out[spec] = entry
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path, help="the bench --out folder")
    args = p.parse_args()
    result = report(read_journal(args.out / "results.jsonl"))
    (args.out / "trees.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
