"""Uniform against adaptive allocation of one total token budget over 50 GSM8K problems, from the cache.

    .venv/bin/python benchmarks/gsm8k_allocation.py

Replays the committed sampling run (``results/gsm8k_qwen_sampling``: 16 seeded
samples per problem of Qwen2.5-Coder-1.5B in its cache) through
:func:`reasoners.solve_batch`, with that run's model string, server URL and options
(the cache keys include them) and a transport that never calls a model: a sample
not in the cache fails (it would be a new generation; none is made). For k = 1..16,
uniform gives every problem k samples; adaptive gets the tokens uniform spent at k
as its total, with a cap of 16 samples, under two rules (Beta, margin). Writes the
journal, summary and plot to ``results/gsm8k_allocation`` and prints the table with
the paired sign test of each adaptive run against uniform at the same total.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from scipy.stats import binomtest  # noqa: E402

from reasoners import LLM, Budget, Cache, ConfigError, ProviderError, RetryPolicy, SelfConsistency, solve_batch  # noqa: E402,E501
from reasoners.bench import write_report  # noqa: E402
from reasoners.bench.tasks import load_task  # noqa: E402
from reasoners.llm.litellm_transport import LiteLLMTransport  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLING = ROOT / "benchmarks/results/gsm8k_qwen_sampling"


class CacheOnly(LiteLLMTransport):
    """What the sampling run's client knew of the model, and no way to reach it."""

    async def complete(self, *args: Any, **kwargs: Any) -> Any:
        raise ProviderError(f"{self.model}: not in the cache (this replay makes no model calls)", model=self.model)


async def run(task: Any, allocate: str, total: int | None, cap: int, rule: str, cache: Cache) -> list[dict]:
    url = "http://127.0.0.1:8765/v1"
    llm = LLM("openai/qwen", api_base=url, api_key="none", temperature=0.0, max_tokens=640, cache=cache,
              retry=RetryPolicy(attempts=1), transport=CacheOnly("openai/qwen", api_base=url, api_key="none"))
    budget = Budget(tokens=total)
    label = "uniform" if allocate == "uniform" else f"adaptive({rule})"
    results = await solve_batch(SelfConsistency(n=cap), task.problems, llm=llm, budget=budget, allocate=allocate,
                                cap=cap, rule=rule, first_wave=1)  # type: ignore[arg-type]
    rows = []
    for problem, result in zip(task.problems, results):
        rows.append({"strategy": label, "budget": total, "problem_id": problem.id, "answer": result.answer,
                     "gold": problem.gold, "correct": await task.ascore(problem, result.answer),
                     "exhausted": result.exhausted, "degraded": result.degraded,
                     "candidates": len(result.candidates), "truncated": 0, "confidence": result.confidence,
                     "failed_samples": len(result.metadata.get("failed_samples", [])),
                     "allocation": result.metadata["allocation"], "usage": result.usage.to_dict(), "seconds": 0.0})
    return rows


def sign_test(a: list[dict], b: list[dict]) -> dict[str, Any]:
    """Problems ``a`` gets right and ``b`` wrong (fixed) and the reverse (broken), exact two-sided p."""
    right = {r["problem_id"]: r["correct"] for r in b}
    fixed = sum(1 for r in a if r["correct"] and not right[r["problem_id"]])
    broken = sum(1 for r in a if not r["correct"] and right[r["problem_id"]])
    p = binomtest(fixed, fixed + broken).pvalue if fixed + broken else 1.0
    return {"fixed": fixed, "broken": broken, "p": round(float(p), 4)}


async def main(args: argparse.Namespace) -> None:
    task = load_task("gsm8k", limit=args.limit)
    cache = Cache(SAMPLING / "cache.sqlite")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    table = []
    for k in args.k:
        uniform = await run(task, "uniform", None, k, "beta", cache)
        total = sum(r["usage"]["total_tokens"] for r in uniform)
        for r in uniform:
            r["budget"] = total
        rows += uniform
        line: dict[str, Any] = {"k": k, "total_tokens": total, "uniform": sum(r["correct"] for r in uniform)}
        for rule in ("beta", "margin"):
            try:
                adaptive = await run(task, "adaptive", total, 16, rule, cache)
            except ConfigError as e:  # the total cannot pay every problem's first whole sample
                line[f"adaptive_{rule}"] = f"refused: {e}"
                continue
            rows += adaptive
            line[f"adaptive_{rule}"] = sum(r["correct"] for r in adaptive)
            line[f"adaptive_{rule}_tokens"] = sum(r["usage"]["total_tokens"] for r in adaptive)
            line[f"adaptive_{rule}_vs_uniform"] = sign_test(adaptive, uniform)
            line[f"adaptive_{rule}_failed_samples"] = sum(r["failed_samples"] for r in adaptive)
        table.append(line)
        print(json.dumps(line))
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (out / "allocation.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    write_report(rows, out, title=f"gsm8k, {len(task.problems)} problems, Qwen2.5-Coder-1.5B: "
                                  "one total budget, uniform vs adaptive (replayed from the cache)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 2, 3, 4, 6, 8, 12, 16])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/gsm8k_allocation")
    asyncio.run(main(parser.parse_args()))
