"""The Ray executor against the real llama.cpp server: workers build their own clients and answer."""

from __future__ import annotations

import asyncio
import sys

import ray

from reasoners import LLM, Cache, Problem
from reasoners.bench import BenchConfig, parse_strategies, read_journal, run_bench
from reasoners.bench.distributed import RayExecutor
from reasoners.bench.tasks import Task


def test_a_small_sweep_on_ray_against_the_real_server(server_url, tmp_path):
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    problems = [Problem(f"What is {i} + {i}?", gold=str(2 * i), id=f"p{i}") for i in range(1, 5)]
    task = Task("toy", problems, lambda p, a: a == p.gold)
    llm = LLM("openai/smollm2", api_base=server_url, max_tokens=48, cache=Cache(tmp_path / "cache.sqlite"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rows = asyncio.run(run_bench(BenchConfig(task, parse_strategies("cot"), llm, tmp_path, [None],
                                                 executor=RayExecutor())))
    finally:
        ray.shutdown()
    assert len(rows) == 4 and not any(r.get("error") for r in rows)
    assert all(r["usage"]["completion_tokens"] > 0 for r in rows)  # real generations, made by the workers
    assert len(read_journal(tmp_path / "results.jsonl")) == 4
    assert len(Cache(tmp_path / "cache.sqlite")) >= 4  # the workers' caches were merged into the run's
