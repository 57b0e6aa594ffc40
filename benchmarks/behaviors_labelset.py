"""Draw the rationales to hand-label for the behaviour classifiers from the committed runs' caches.

    .venv/bin/python benchmarks/behaviors_labelset.py

Replays the journals of the committed GSM8K (Qwen2.5-Coder-1.5B), Countdown and
Sudoku (SmolLM2-135M) runs from their caches (no model call), draws a fixed,
seeded selection of samples and writes them to
``tests/data/behaviors/rationales.jsonl`` (id, run, strategy, problem, sample
index, whether the sample was correct, text). The labels live apart, in
``labels.jsonl`` beside it, so redrawing never overwrites them.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from pathlib import Path

from reasoners.bench import read_journal
from reasoners.bench.analyze import recover_samples

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks/results"
OUT = ROOT / "tests/data/behaviors/rationales.jsonl"

CUES = re.compile(r"check|verif|confirm|correct|mistake|wrong|again|however|wait|actually|reconsider|re-?evaluat"
                  r"|backward|satisf|ensure|instead|not possible", re.IGNORECASE)
"""Broad cue words (many near-misses among them) for an enriched draw: verification and backtracking are
rare in a uniform draw, and precision and recall need positives of each."""
ENRICHED = [("gsm8k_qwen_sampling", "sc:16", None, 20)]

# (run folder, strategy label, budget, how many samples), drawn uniformly
PLAN = [
    ("gsm8k_qwen_sampling", "cot", None, 10),
    ("gsm8k_qwen_sampling", "sc:16", None, 14),
    ("gsm8k_qwen_sampling", "sc(n=8,base=autocot(k=8,max_steps=8))", None, 6),
    ("backtrack_countdown_smollm2", "linear(max_tokens=2048)", 1000, 10),
    ("backtrack_countdown_smollm2", "bon(n=16,base=linear(backtrack=false,max_tokens=200),scorer=checker,ties=first)",
     1000, 6),
    ("backtrack_sudoku_smollm2", "linear(max_tokens=2048)", 1200, 8),
    ("backtrack_sudoku_smollm2", "bon(n=16,base=linear(backtrack=false,max_tokens=200),scorer=checker,ties=first)",
     1200, 6),
]


def _item(folder: str, strategy: str, budget: int | None, row: dict, i: int, n: int, draw: str) -> dict:
    s = row["samples"][i]
    return {"id": f"{folder}/{row['problem_id']}/{n}", "run": folder, "strategy": strategy, "budget": budget,
            "problem_id": row["problem_id"], "sample": i, "draw": draw, "correct": s["correct"], "text": s["text"]}


async def main() -> None:
    rng, out = random.Random(0), []
    recovered = {}
    for folder in dict.fromkeys(run for run, *_ in PLAN + ENRICHED):
        rows = read_journal(RESULTS / folder / "results.jsonl")
        wanted = {(s, b) for run, s, b, _ in PLAN + ENRICHED if run == folder}
        recovered[folder] = [r for r in rows if (r["strategy"], r["budget"]) in wanted]
        await recover_samples(RESULTS / folder, recovered[folder])
    for folder, strategy, budget, k in PLAN:
        pool = [(r, i) for r in recovered[folder] if (r["strategy"], r["budget"]) == (strategy, budget)
                for i, s in enumerate(r.get("samples") or []) if s["text"].strip()]
        for r, i in rng.sample(pool, k):
            out.append(_item(folder, strategy, budget, r, i, len(out), "uniform"))
    rng = random.Random(1)
    for folder, strategy, budget, k in ENRICHED:
        taken = {(x["problem_id"], x["sample"]) for x in out if x["run"] == folder and x["strategy"] == strategy}
        pool = [(r, i) for r in recovered[folder] if (r["strategy"], r["budget"]) == (strategy, budget)
                for i, s in enumerate(r.get("samples") or [])
                if CUES.search(s["text"]) and (r["problem_id"], i) not in taken]
        for r, i in rng.sample(pool, k):
            out.append(_item(folder, strategy, budget, r, i, len(out), "cue words"))
    OUT.write_text("".join(json.dumps(x) + "\n" for x in out), encoding="utf-8")
    print(f"wrote {len(out)} rationales to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
