"""Client overhead per call: reasoners.LLM on each HTTP transport vs the bare SDKs, same local stub server.

    python benchmarks/overhead.py [--calls 500] [--concurrency 1] [--rounds 20]

Six ways make the same calls, in rounds whose order rotates to cancel drift:
bare ``litellm.acompletion``, the bare ``openai`` SDK, a bare aiohttp loop (a pooled session
posting the dict and reading the JSON: the floor), and ``reasoners.LLM`` on its litellm, its
openai-SDK and its bare http transport. Reported per way: wall time, CPU seconds of this
process per call (the server runs in its own process), and the ratio of our wall time to the
bare client under it. The bare http transport is the default for ``api_base`` servers while it
costs the least CPU of our three (``http_over_aiohttp_cpu``: its CPU per call over the floor's).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import platform
import time
from collections.abc import Awaitable, Callable

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from _server import stub_process  # noqa: E402

from reasoners import LLM, Budget, RetryPolicy  # noqa: E402
from reasoners.llm.convert import litellm  # noqa: E402

MESSAGES = [{"role": "user", "content": "Say hello."}]
Call = Callable[[int], Awaitable[object]]


def ways(url: str, concurrency: int) -> tuple[dict[str, Call], Callable[[], Awaitable[None]]]:
    """The ways to call, and how to close what they opened."""
    import aiohttp
    from openai import AsyncOpenAI

    lm = litellm()
    sdk = AsyncOpenAI(base_url=url, api_key="none", max_retries=0)
    budget = Budget(tokens=10**12)
    ours = {name: LLM("openai/stub", api_base=url, api_key="none", max_tokens=16, concurrency=concurrency,
                      retry=RetryPolicy(attempts=1), transport=name) for name in ("litellm", "openai", "http")}
    sessions: dict[int, aiohttp.ClientSession] = {}

    async def raw_litellm(i: int) -> object:
        return await lm.acompletion(model="openai/stub", api_base=url, api_key="none", messages=MESSAGES,
                                    temperature=0.0, max_tokens=16, num_retries=0, max_retries=0)

    async def raw_openai(i: int) -> object:
        return await sdk.chat.completions.create(model="stub", messages=MESSAGES, temperature=0.0, max_tokens=16)

    async def raw_aiohttp(i: int) -> object:
        session = sessions.get(0)
        if session is None:
            session = sessions[0] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        body = {"model": "stub", "messages": MESSAGES, "temperature": 0.0, "max_tokens": 16}
        async with session.post(f"{url}/chat/completions", data=json.dumps(body),
                                headers={"Content-Type": "application/json", "Authorization": "Bearer none"}) as r:
            return json.loads(await r.read())

    async def close() -> None:
        for session in sessions.values():
            await session.close()
        for llm in ours.values():
            await llm.aclose()
        await sdk.close()

    return {
        "raw_litellm": raw_litellm,
        "raw_openai": raw_openai,
        "raw_aiohttp": raw_aiohttp,
        "reasoners_litellm": lambda i: ours["litellm"].agenerate(MESSAGES, budget=budget),
        "reasoners_openai": lambda i: ours["openai"].agenerate(MESSAGES, budget=budget),
        "reasoners_http": lambda i: ours["http"].agenerate(MESSAGES, budget=budget),
    }, close


async def timed(call: Call, calls: int, concurrency: int) -> tuple[float, float]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await call(i)

    w0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(calls)))
    return time.perf_counter() - w0, time.process_time() - c0


async def main_async(calls: int, concurrency: int, rounds: int) -> dict:
    with stub_process() as url:
        table, close = ways(url, concurrency)
        for call in table.values():  # warm up imports and connections
            await timed(call, 20, concurrency)
        wall = dict.fromkeys(table, 0.0)
        cpu = dict.fromkeys(table, 0.0)
        names = list(table)
        per = calls // rounds
        for r in range(rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                w, c = await timed(table[name], per, concurrency)
                wall[name] += w
                cpu[name] += c
        await close()
    done = per * rounds
    out: dict = {"calls": done, "concurrency": concurrency}
    for name in names:
        out[name] = {"wall_s": round(wall[name], 3), "cpu_ms_per_call": round(cpu[name] / done * 1000, 3)}
    out["reasoners_litellm_over_raw_litellm"] = round(wall["reasoners_litellm"] / wall["raw_litellm"], 3)
    out["reasoners_openai_over_raw_openai"] = round(wall["reasoners_openai"] / wall["raw_openai"], 3)
    out["reasoners_http_over_raw_aiohttp"] = round(wall["reasoners_http"] / wall["raw_aiohttp"], 3)
    out["http_over_aiohttp_cpu"] = round(cpu["reasoners_http"] / cpu["raw_aiohttp"], 3)
    out["http_over_openai_cpu"] = round(cpu["reasoners_http"] / cpu["reasoners_openai"], 3)
    out.update(python=platform.python_version(), litellm=importlib.metadata.version("litellm"),
               openai=importlib.metadata.version("openai"), aiohttp=importlib.metadata.version("aiohttp"))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    print(json.dumps(asyncio.run(main_async(args.calls, args.concurrency, args.rounds)), indent=2))


if __name__ == "__main__":
    main()
