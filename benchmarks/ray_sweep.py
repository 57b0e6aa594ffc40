"""The same sweep on the local executor and on Ray with 1 and 2 workers, against the stub server.

    python benchmarks/ray_sweep.py [--problems 200] [--latency 0.2]

Every cell is one chain-of-thought call that the stub answers after ``--latency``
seconds. Reports wall times and, for Ray, its own cost per cell: wall x workers /
cells minus the latency (each worker runs one cell at a time). The local executor
runs 8 cells at once in one process (``--concurrency`` of ``reasoners bench``).
Results: ``results/ray_sweep.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import ray  # noqa: E402
from _server import stub_process  # noqa: E402

from reasoners import LLM, Problem  # noqa: E402
from reasoners.bench import BenchConfig, parse_strategies, run_bench  # noqa: E402
from reasoners.bench.distributed import RayExecutor  # noqa: E402
from reasoners.bench.tasks import Task  # noqa: E402


def sweep(url: str, problems: int, executor: Any) -> float:
    task = Task("toy", [Problem(f"What is {i} plus 1?", gold=str(i + 1), id=f"p{i}") for i in range(problems)],
                lambda p, a: a == p.gold)
    with tempfile.TemporaryDirectory() as out:
        llm = LLM("openai/stub", api_base=url, max_tokens=32)  # no cache: every cell calls the stub
        config = BenchConfig(task, parse_strategies("cot"), llm, Path(out), [None], concurrency=8,
                             executor=executor)
        t0 = time.perf_counter()
        rows = asyncio.run(run_bench(config))
        wall = time.perf_counter() - t0
    assert len(rows) == problems and not any(r.get("error") for r in rows)
    return wall


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--problems", type=int, default=200)
    p.add_argument("--latency", type=float, default=0.2)
    args = p.parse_args()
    out: dict[str, Any] = {"problems": args.problems, "latency_s": args.latency}
    with stub_process("--latency", str(args.latency)) as url:
        out["local_8_at_once_s"] = round(sweep(url, args.problems, None), 2)
        for workers in (1, 2):
            t0 = time.perf_counter()
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
            started = time.perf_counter() - t0
            sweep(url, 10, RayExecutor())  # warm the workers (imports, first client)
            wall = sweep(url, args.problems, RayExecutor())
            ray.shutdown()
            out[f"ray_{workers}_workers"] = {
                "ray_start_s": round(started, 2), "wall_s": round(wall, 2),
                "overhead_per_cell_ms": round((wall * workers / args.problems - args.latency) * 1000, 1),
            }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
