"""Client overhead: N calls through reasoners.LLM vs raw litellm.acompletion, same local instant server.

    python benchmarks/overhead.py [--calls 500] [--concurrency 1]

Prints the ratio of wall times (goal: under 1.05). The server runs in its own
process; both sides make the same calls, in rounds whose order alternates to
cancel drift.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import asyncio
import json
import os
import platform
import statistics
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from reasoners import LLM, Budget, RetryPolicy  # noqa: E402
from reasoners.llm.convert import litellm  # noqa: E402
from _server import stub_process  # noqa: E402

MESSAGES = [{"role": "user", "content": "Say hello."}]


async def raw(url: str, calls: int, concurrency: int) -> float:
    lm = litellm()
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await lm.acompletion(
                model="openai/stub", api_base=url, api_key="none", messages=MESSAGES,
                temperature=0.0, max_tokens=16, num_retries=0, max_retries=0,
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return time.perf_counter() - t0


async def ours(url: str, calls: int, concurrency: int) -> float:
    llm = LLM("openai/stub", api_base=url, api_key="none", max_tokens=16, concurrency=concurrency,
              retry=RetryPolicy(attempts=1))
    budget = Budget(tokens=10**9)

    async def one(i: int) -> None:
        await llm.agenerate(MESSAGES, budget=budget)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return time.perf_counter() - t0


async def main_async(calls: int, concurrency: int, rounds: int) -> dict:
    with stub_process() as url:
        await raw(url, 20, concurrency)  # warm up imports and connections
        await ours(url, 20, concurrency)
        t_raw = t_ours = 0.0
        ratios = []
        per = calls // rounds
        for r in range(rounds):
            if r % 2 == 0:
                a = await raw(url, per, concurrency)
                b = await ours(url, per, concurrency)
            else:
                b = await ours(url, per, concurrency)
                a = await raw(url, per, concurrency)
            t_raw, t_ours = t_raw + a, t_ours + b
            ratios.append(b / a)
    return {
        "calls": calls,
        "concurrency": concurrency,
        "raw_litellm_s": round(t_raw, 3),
        "reasoners_s": round(t_ours, 3),
        "ratio": round(t_ours / t_raw, 3),
        "median_round_ratio": round(statistics.median(ratios), 3),
        "per_call_overhead_ms": round((t_ours - t_raw) / calls * 1000, 3),
        "python": platform.python_version(),
        "litellm": importlib.metadata.version("litellm"),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    print(json.dumps(asyncio.run(main_async(args.calls, args.concurrency, args.rounds)), indent=2))


if __name__ == "__main__":
    main()
