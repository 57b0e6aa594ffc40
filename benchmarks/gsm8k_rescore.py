"""Re-score the GSM8K best-of-8 verifier rows with the library's step checker, from the cache alone.

The committed rows of ``gsm8k_sampling.py`` scored candidates with a copy of the
step checker that lived in that script and skipped every step preceded by
whitespace (Python's parser rejects the leading space), i.e. most steps. The
checker now lives in :mod:`reasoners.answers.arithmetic`, fixed and reading LaTeX too.
This replays the same seeded samples from the sampling run's cache, with no model
and no server (a cache miss would try a closed port and become an error row), and
writes the re-scored rows to their own journal:

    .venv/bin/python benchmarks/gsm8k_rescore.py --limit 50
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from reasoners import LLM, BestOfN, Cache, RetryPolicy, Verifier
from reasoners.answers.arithmetic import arithmetic_check
from reasoners.bench import BenchConfig, progress_bar, run_bench, write_report
from reasoners.bench.tasks import load_task

ROOT = Path(__file__).resolve().parent.parent
SAMPLING = ROOT / "benchmarks/results/gsm8k_qwen_sampling"


async def main(args: argparse.Namespace) -> None:
    task = load_task("gsm8k", limit=args.limit)
    # The sampling run's client, as its cache keys saw it: same model, server URL and options.
    llm = LLM("openai/qwen", api_base=f"http://127.0.0.1:{args.port}/v1", api_key="none", temperature=0.0,
              max_tokens=args.max_tokens, cache=Cache(SAMPLING / "cache.sqlite"), timeout=5,
              retry=RetryPolicy(attempts=1))
    strategies = [
        ("bon(n=8,scorer=verifier,ties=first)", BestOfN(n=8, scorer=Verifier(arithmetic_check), ties="first")),
        ("bon(n=8,scorer=verifier)", BestOfN(n=8, scorer=Verifier(arithmetic_check))),
    ]
    config = BenchConfig(task, strategies, llm, args.out, [None], concurrency=4)
    with progress_bar("rescore") as progress:
        rows = await run_bench(config, progress=progress)
    title = f"gsm8k, {len(task.problems)} problems, Qwen2.5-Coder-1.5B, verifier re-scored from the cache"
    for t in write_report(rows, args.out, title=title):
        print(f"{t['strategy']:>40}: {t['accuracy']:.1%} of {t['problems']}, errors {t['errors']}, "
              f"cache hits {t['cache_hits']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--max-tokens", type=int, default=640)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/gsm8k_qwen_verifier_rescore")
    asyncio.run(main(parser.parse_args()))
