"""The in-process path's cost per call: FakeLLM (no latency) through the whole client.

    python benchmarks/inprocess.py [--calls 2000]

Prints wall and CPU milliseconds per call. Run it at two revisions to compare
(the committed result compares the litellm custom-provider path with the direct
in-process transport; see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from reasoners import Budget  # noqa: E402
from reasoners.testing import FakeLLM  # noqa: E402


async def run(calls: int) -> tuple[float, float]:
    llm = FakeLLM(["The answer is 4."])
    budget = Budget(tokens=10**12)
    for _ in range(20):
        await llm.agenerate("warm up", budget=budget)
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(calls):
        await llm.agenerate(f"What is {i} + 1?", budget=budget)
    return time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=2000)
    args = p.parse_args()
    wall, cpu = asyncio.run(run(args.calls))
    print(json.dumps({"calls": args.calls, "wall_ms_per_call": round(wall / args.calls * 1000, 3),
                      "cpu_ms_per_call": round(cpu / args.calls * 1000, 3)}))


if __name__ == "__main__":
    main()
