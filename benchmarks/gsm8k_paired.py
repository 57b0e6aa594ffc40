"""Pair every strategy of the GSM8K sampling run with a reference strategy, problem by problem.

For each strategy: on how many problems its answer differs from the reference's,
how many of those it fixes (reference wrong, it right) or breaks (the reverse), and
the exact two-sided sign test on fixed against broken. Reads only the journal:

    .venv/bin/python benchmarks/gsm8k_paired.py benchmarks/results/gsm8k_qwen_sampling --reference sc:8

A journal run at several budgets pairs the strategies at one of them (``--budget``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from reasoners.bench import read_journal


def sign_test(fixed: int, broken: int) -> float:
    """Exact two-sided binomial test of fixed vs broken at p = 1/2."""
    n = fixed + broken
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(fixed, broken) + 1))
    return min(1.0, 2 * tail / 2**n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the benchmark's --out directory (reads results.jsonl)")
    parser.add_argument("--reference", default="sc:8", help="strategy to pair the others with")
    parser.add_argument("--budget", help="pair the rows run at this token budget ('none': unbounded); "
                        "needed when the journal has several")
    args = parser.parse_args()
    rows = read_journal(args.out / "results.jsonl")
    budgets = sorted({r["budget"] for r in rows}, key=lambda b: (b is None, b or 0))
    if args.budget is not None:
        wanted = None if args.budget.lower() == "none" else int(args.budget) if args.budget.isdigit() else ""
        if wanted not in budgets:
            parser.error(f"--budget {args.budget} is not in the journal; it has {budgets}")
        rows = [r for r in rows if r["budget"] == wanted]
    elif len(budgets) > 1:
        parser.error(f"the journal has several budgets {budgets}: choose one with --budget")
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    if args.reference not in strategies:
        parser.error(f"--reference {args.reference!r} is not in the journal; it has {strategies}")
    by = {(r["strategy"], r["problem_id"]): r for r in rows}
    problems = [p for p in dict.fromkeys(r["problem_id"] for r in rows) if all((s, p) in by for s in strategies)]
    print(f"{len(problems)} problems with a row for every strategy; reference {args.reference}")
    print("| strategy | correct | changed / fixed / broken | sign test p |\n|---|---|---|---|")
    for s in strategies:
        changed = fixed = broken = 0
        for p in problems:
            a, ref = by[(s, p)], by[(args.reference, p)]
            if a["answer"] != ref["answer"]:
                changed += 1
                fixed += a["correct"] and not ref["correct"]
                broken += ref["correct"] and not a["correct"]
        correct = sum(by[(s, p)]["correct"] for p in problems)
        p_value = sign_test(fixed, broken)
        print(f"| {s} | {correct} | {changed} / {fixed} / {broken} | {'<0.01' if p_value < 0.005 else f'{p_value:.2f}'} |")


if __name__ == "__main__":
    main()
