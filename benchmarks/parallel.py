"""Parallel efficiency: n samples against a local server with a fixed per-request latency.

    python benchmarks/parallel.py [--samples 32] [--latency 0.2] [--repeats 5]

The server answers one choice per request (like servers without `n`), so the
client sends the samples as concurrent single requests. For our client on each
HTTP transport and for the bare SDKs under them, prints the best wall time over
the latency (1.0 is perfect overlap) and this process's CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from _server import stub_process  # noqa: E402

from reasoners import LLM, Budget  # noqa: E402

MESSAGES = [{"role": "user", "content": "Say hello."}]


async def fan_out(way: str, url: str, samples: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one fan-out of ``samples`` calls (after one warm-up call)."""
    if way.startswith("reasoners_"):
        llm = LLM("openai/stub", api_base=url, api_key="none", concurrency=samples, capabilities={"n": False},
                  transport=way.removeprefix("reasoners_"))
        await llm.agenerate("warm up")

        async def go() -> Any:
            out = await llm.agenerate(MESSAGES, n=samples, temperature=0.8, budget=Budget())
            assert len(out) == samples
    elif way == "raw_litellm":
        from reasoners.llm.convert import litellm

        lm = litellm()
        kw = {"model": "openai/stub", "api_base": url, "api_key": "none", "num_retries": 0, "max_retries": 0}
        await lm.acompletion(messages=[{"role": "user", "content": "warm up"}], **kw)

        async def go() -> Any:
            await asyncio.gather(*(lm.acompletion(messages=MESSAGES, temperature=0.8, seed=i, **kw)
                                   for i in range(samples)))
    elif way == "raw_aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

        async def post(i: int) -> Any:
            body = {"model": "stub", "messages": MESSAGES, "temperature": 0.8, "seed": i}
            async with session.post(f"{url}/chat/completions", data=json.dumps(body),
                                    headers={"Content-Type": "application/json"}) as r:
                return json.loads(await r.read())

        await post(-1)

        async def go() -> Any:
            await asyncio.gather(*(post(i) for i in range(samples)))
    else:
        from openai import AsyncOpenAI

        sdk = AsyncOpenAI(base_url=url, api_key="none", max_retries=0)
        await sdk.chat.completions.create(model="stub", messages=[{"role": "user", "content": "warm up"}])

        async def go() -> Any:
            await asyncio.gather(*(sdk.chat.completions.create(model="stub", messages=MESSAGES, temperature=0.8,
                                                               seed=i) for i in range(samples)))
    w0, c0 = time.perf_counter(), time.process_time()
    await go()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    if way == "raw_openai":
        await sdk.close()
    elif way == "raw_aiohttp":
        await session.close()
    elif way.startswith("reasoners_"):
        await llm.aclose()
    return wall, cpu


WAYS = ("reasoners_litellm", "reasoners_openai", "reasoners_http", "raw_litellm", "raw_openai", "raw_aiohttp")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    walls: dict[str, list[float]] = {w: [] for w in WAYS}
    cpus: dict[str, list[float]] = {w: [] for w in WAYS}
    with stub_process("--latency", str(args.latency), "--no-n") as url:
        for r in range(args.repeats):
            for way in WAYS[r % len(WAYS):] + WAYS[: r % len(WAYS)]:
                wall, cpu = asyncio.run(fan_out(way, url, args.samples))
                walls[way].append(wall)
                cpus[way].append(cpu)
    out: dict[str, Any] = {"samples": args.samples, "latency_s": args.latency}
    for way in WAYS:
        out[way] = {
            "wall_s": [round(w, 3) for w in walls[way]],
            "wall_over_latency": round(min(walls[way]) / args.latency, 3),
            "cpu_ms_per_call": round(sorted(cpus[way])[len(cpus[way]) // 2] / args.samples * 1000, 3),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
