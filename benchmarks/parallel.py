"""Parallel efficiency: n samples against a local server with a fixed per-request latency.

    python benchmarks/parallel.py [--samples 32] [--latency 0.2]

The server answers one choice per request (like servers without `n`), so the
client sends the samples as concurrent single requests. Prints wall / latency
(goal: under 1.5; 1.0 is perfect overlap).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from _server import stub_process  # noqa: E402

from reasoners import LLM, Budget  # noqa: E402


async def raw(url: str, samples: int) -> float:
    """The same fan-out with bare litellm calls: the floor litellm itself sets."""
    from reasoners.llm.convert import litellm

    lm = litellm()
    msgs = [{"role": "user", "content": "Say hello."}]
    kw = {"model": "openai/stub", "api_base": url, "api_key": "none", "num_retries": 0, "max_retries": 0}
    await lm.acompletion(messages=[{"role": "user", "content": "warm up"}], **kw)
    t0 = time.perf_counter()
    await asyncio.gather(*(lm.acompletion(messages=msgs, temperature=0.8, seed=i, **kw) for i in range(samples)))
    return time.perf_counter() - t0


async def run(url: str, samples: int) -> float:
    llm = LLM("openai/stub", api_base=url, api_key="none", concurrency=samples, capabilities={"n": False})
    await llm.agenerate("warm up")
    t0 = time.perf_counter()
    out = await llm.agenerate("Say hello.", n=samples, temperature=0.8, budget=Budget())
    wall = time.perf_counter() - t0
    assert len(out) == samples
    return wall


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--latency", type=float, default=0.2)
    args = p.parse_args()
    with stub_process("--latency", str(args.latency), "--no-n") as url:
        walls, raws = [], []
        for _ in range(5):
            walls.append(asyncio.run(run(url, args.samples)))
            raws.append(asyncio.run(raw(url, args.samples)))
    print(json.dumps({
        "samples": args.samples,
        "latency_s": args.latency,
        "reasoners_wall_s": [round(w, 3) for w in walls],
        "raw_litellm_wall_s": [round(w, 3) for w in raws],
        "wall_over_latency": round(min(walls) / args.latency, 3),
        "raw_litellm_wall_over_latency": round(min(raws) / args.latency, 3),
    }, indent=2))


if __name__ == "__main__":
    main()
