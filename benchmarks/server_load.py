"""`reasoners serve` under load: throughput and the latency it adds over calling the upstream directly,
then the same under upstream faults.

    python benchmarks/server_load.py [--requests 400] [--concurrency 16] [--latency 0.2] [--fault-rate 0.3]

The upstream is the stub OpenAI-compatible server (its own process) answering after
``--latency`` seconds. Clean: N chat requests at concurrency C straight to the
stub, then the same through our server (its own process, strategy ``cot``, one
upstream call per request). Faulty: the stub turns ``--fault-rate`` of its replies
into a fault (429 with Retry-After 0, 500, a malformed body, a 3 s hang, a dropped
connection, evenly), the server retries them (upstream timeout 1 s), and the
clients count what they got. Prints JSON (``results/server_load.json``).

``--pass-through`` measures the server's own work instead: the same requests direct and through
the server (``--concurrency`` of the server set to match), at concurrency 8 and 64 against an
upstream that answers at once and at 64 against one that takes 200 ms; the server's CPU per
request (``process_cpu_seconds_total`` from its ``/metrics``, before and after) and the latency
it adds at the median (``results/server_pass_through.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import aiohttp  # noqa: E402
import httpx  # noqa: E402
from _server import stub_process  # noqa: E402

from reasoners.testing import running_server  # noqa: E402


async def load(url: str, model: str, requests: int, concurrency: int) -> dict[str, Any]:
    """``requests`` chat calls, ``concurrency`` at a time: wall time, latencies, statuses. The
    client is a bare aiohttp session, so that it is not itself what limits the rate."""
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    timeout = aiohttp.ClientTimeout(total=120)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout) as client:
        async def one(i: int) -> None:
            async with sem:
                t0 = time.perf_counter()
                body = {"model": model, "messages": [{"role": "user", "content": f"What is {i} + 1?"}]}
                try:
                    async with client.post(f"{url}/chat/completions", json=body) as r:
                        await r.read()
                        statuses[str(r.status)] += 1
                        if r.status == 200:
                            latencies.append(time.perf_counter() - t0)
                except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                    statuses[type(e).__name__] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "wall_s": round(wall, 3),
        "throughput_rps": round(requests / wall, 2),
        "p50_s": round(statistics.median(latencies), 4) if latencies else None,
        "p99_s": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 4) if latencies else None,
        "statuses": dict(statuses),
    }


def server_cpu(url: str) -> float:
    """The server process's CPU seconds so far, from its Prometheus metrics."""
    text = httpx.get(url.removesuffix("/v1") + "/metrics").text
    return float(next(line.split()[1] for line in text.splitlines()
                      if line.startswith("process_cpu_seconds_total")))


def pass_through(n: int) -> dict[str, Any]:
    """The server's own work per request: CPU and the latency it adds. Upstream answering at once at
    concurrency 8 and 64 (at 64 the server process is busy all the time, so the median is mostly
    queueing behind the other 63: Little's law), and at 64 with a 200 ms upstream (64 runs in
    flight, as a shared server with a real model upstream has them). Beside ours, in the same run,
    the floor: ``bare_proxy.py``, FastAPI and uvicorn passing each request on with aiohttp."""
    out: dict[str, Any] = {"requests": n}
    for c, latency in ((8, 0.0), (64, 0.0), (64, 0.2)):
        with stub_process("--latency", str(latency)) as upstream:
            asyncio.run(load(upstream, "stub", 50, c))
            direct = asyncio.run(load(upstream, "stub", n, c))
            row: dict[str, Any] = {"direct": direct}
            for name, server in (("through_server", served(upstream, "--concurrency", str(c))),
                                 ("through_bare_proxy", bare_proxy(upstream))):
                with server as (url, cpu_seconds):
                    asyncio.run(load(url, "openai/stub", 50, c))
                    before = cpu_seconds()
                    through = asyncio.run(load(url, "openai/stub", n, c))
                    cpu = cpu_seconds() - before
                key = name.removeprefix("through_")
                row[name] = through
                row[f"{key}_cpu_ms_per_request"] = round(cpu / n * 1000, 3)
                row[f"{key}_added_p50_ms"] = round((through["p50_s"] - direct["p50_s"]) * 1000, 2)
                row[f"{key}_throughput_ratio"] = round(through["throughput_rps"] / direct["throughput_rps"], 3)
        out[f"c{c}_upstream_{int(latency * 1000)}ms"] = row
    return out


@contextlib.contextmanager
def bare_proxy(upstream: str) -> Iterator[tuple[str, Callable[[], float]]]:
    """The floor (``bare_proxy.py``) and its CPU seconds so far (from its ``/cpu``)."""
    with running_server([sys.executable, str(Path(__file__).with_name("bare_proxy.py")), "--port", "{port}",
                         "--upstream", upstream]) as url:
        yield url, lambda: float(httpx.get(url.removesuffix("/v1") + "/cpu").json())


def serve(upstream: str, *args: str) -> Any:
    return running_server([sys.executable, "-m", "reasoners.cli", "serve", "--model", "openai/stub",
                           "--api-base", upstream, "--port", "{port}", "--max-queue", "10000", *args], seconds=60)


@contextlib.contextmanager
def served(upstream: str, *args: str) -> Iterator[tuple[str, Callable[[], float]]]:
    """Our server and its CPU seconds so far (from its /metrics)."""
    with serve(upstream, *args) as url:
        yield url, lambda: server_cpu(url)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--fault-rate", type=float, default=0.3)
    p.add_argument("--pass-through", action="store_true", help="the server's own CPU and latency per request")
    args = p.parse_args()
    n, c = args.requests, args.concurrency
    if args.pass_through:
        print(json.dumps(pass_through(n), indent=2))
        return
    out: dict[str, Any] = {"requests": n, "concurrency": c, "upstream_latency_s": args.latency}
    with stub_process("--latency", str(args.latency)) as upstream:
        asyncio.run(load(upstream, "stub", 20, c))  # warm up
        out["direct"] = asyncio.run(load(upstream, "stub", n, c))
        with serve(upstream, "--concurrency", str(c)) as url:
            asyncio.run(load(url, "openai/stub", 20, c))
            out["through_server"] = asyncio.run(load(url, "openai/stub", n, c))
    d, s = out["direct"], out["through_server"]
    out["added_p50_ms"] = round((s["p50_s"] - d["p50_s"]) * 1000, 1)
    out["added_p99_ms"] = round((s["p99_s"] - d["p99_s"]) * 1000, 1)
    out["throughput_ratio"] = round(s["throughput_rps"] / d["throughput_rps"], 3)
    with stub_process("--latency", str(args.latency), "--fault-rate", str(args.fault_rate),
                      "--hang-seconds", "3") as upstream:
        with serve(upstream, "--concurrency", str(c), "--upstream-timeout", "1") as url:
            faulty = asyncio.run(load(url, "openai/stub", n, c))
    faulty["fault_rate"] = args.fault_rate
    faulty["lost"] = n - faulty["statuses"].get("200", 0)
    out["faulty_upstream"] = faulty
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
