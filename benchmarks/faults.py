"""Nothing lost under faults: SC(n=4) over 100 problems against a server with 30% mixed faults.

    .venv/bin/python benchmarks/faults.py [--problems 100] [--fault-rate 0.3] [--attempts 3]

The stub server (``reasoners.testing.stub_server``, in this process, on 127.0.0.1) turns
``--fault-rate`` of its replies into 429 (Retry-After 0), 500, a malformed body, a
hang past the client timeout, or a dropped connection. ``reasoners bench``'s
harness runs self-consistency with 4 samples per problem under a per-problem
token budget, then runs again on the same folder (a resume). Counted: problems
answered, lost (error rows), degraded (answered from fewer than 4 samples),
duplicated journal rows after the resume, and problems whose usage passed the
budget. Goals: 0 lost, 0 duplicated, 0 over budget. Writes results/faults.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from reasoners import LLM, Problem, RetryPolicy  # noqa: E402
from reasoners.bench import JOURNAL, BenchConfig, parse_strategies, read_journal, run_bench  # noqa: E402
from reasoners.bench.tasks import Task  # noqa: E402
from reasoners.testing.stub_server import StubServer  # noqa: E402

BUDGET = 400  # tokens per problem: 4 samples of the stub's ~20 tokens fit easily


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", type=int, default=100)
    p.add_argument("--fault-rate", type=float, default=0.3)
    p.add_argument("--attempts", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "faults.json")
    args = p.parse_args()
    problems = [Problem(f"Question {i}: what is 40 plus 2?", gold="42", id=f"q{i}") for i in range(args.problems)]
    task = Task("faults", problems, lambda prob, answer: answer == prob.gold)
    retry = RetryPolicy(attempts=args.attempts, initial_wait=0.0, max_wait=0.0, jitter=0.0)
    t0 = time.perf_counter()
    with StubServer(fault_rate=args.fault_rate, seed=args.seed, hang_seconds=1.5) as srv, \
            tempfile.TemporaryDirectory() as tmp:
        llm = LLM("openai/stub", api_base=srv.url, api_key="x", retry=retry, timeout=0.5, capabilities={"n": False})
        config = BenchConfig(task, parse_strategies("sc:4"), llm, Path(tmp), [BUDGET], concurrency=8)
        first = asyncio.run(run_bench(config))
        asyncio.run(run_bench(config))  # the same folder again: a resume
        raw = [json.loads(line) for line in (Path(tmp) / JOURNAL).read_text().splitlines()]
        final = read_journal(Path(tmp) / JOURNAL)
        faults, requests = srv.faults, len(srv.requests)
    # Rows answered more than once: an error row rerun on resume is not a duplicate, a second answer is.
    answered = Counter((r["strategy"], r["budget"], r["problem_id"]) for r in raw if not r.get("error"))
    first_errors = [r for r in first if r.get("error")]
    report = {
        "command": "benchmarks/faults.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                                                       if k != "out"),
        "problems": args.problems,
        "fault_rate": args.fault_rate,
        "attempts": args.attempts,
        "requests": requests,
        "faults_served": faults,
        "first_run": {
            "answered": sum(1 for r in first if not r.get("error")),
            "lost": len(first_errors),
            "lost_errors": dict(Counter(r["error"]["type"] for r in first_errors)),
            "degraded": sum(1 for r in first if r.get("degraded")),
            "failed_samples": sum(r.get("failed_samples", 0) for r in first),
        },
        "after_resume": {
            "answered": sum(1 for r in final if not r.get("error")),
            "lost": sum(1 for r in final if r.get("error")),
            "journal_lines": len(raw),
            "duplicated_rows": sum(count - 1 for count in answered.values()),
        },
        "over_budget": sum(1 for r in final if not r.get("error") and r["usage"]["total_tokens"] > BUDGET),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
