"""GSM8K at matched tokens: CoT, self-consistency, best-of-N with each scorer, Auto-CoT + SC, FOBAR.

One run serves two comparisons: the sampling strategies (CoT greedy, SC@4/8/16,
best-of-8 with a verifier function, the mean-logprob scorer, an LLM judge and
TRLM, Auto-CoT + SC@8; the verifier and the judge also with ``ties="vote"``, which
re-ranks the same samples and judge replies, so it costs no model call) and FOBAR
against SC@k at matched tokens. Every sampling strategy draws the same T=0.7
samples (same prompts, same seeds), and the cache (with identical concurrent
calls shared) draws each sample once: SC@4 and SC@8
are the first 4 and 8 of SC@16's samples, best-of-8 scores SC@8's samples, and
FOBAR's forward pass is SC@8. FOBAR runs under a per-problem token cap
(``--fobar-budget``, default: about SC@16's spend), so its backward questions
are planned into the tokens SC@16 spends on its second 8 samples. Auto-CoT keeps
rationales of up to 8 lines (``--autocot-max-steps``): the published 5 suits
GPT-3's one step per line, and none of Qwen's markdown rationales (80 tried, 10
per cluster) passed it.

The model is Qwen2.5-Coder-1.5B-Instruct (``make install-qwen``) behind llama.cpp's
own server with 8 parallel slots (``benchmarks/build_llama_server.sh``): it
batches the parallel samples, ~2.3x the tokens/s of one stream here. That server
cannot score prompt tokens, so TRLM scores with the same GGUF in-process.

    .venv/bin/python benchmarks/gsm8k_sampling.py --limit 50 --out benchmarks/results/gsm8k_qwen_sampling

The journal and cache in ``--out`` make the run resumable: stop it at any time
and start it again; problems run in order, every strategy on a problem before the
next problem, so a partial run is still a comparison on the same problems.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path

from reasoners import (
    FOBAR,
    LLM,
    AutoCoT,
    BestOfN,
    Cache,
    ChainOfThought,
    LLMJudge,
    MeanLogprob,
    SelfConsistency,
    TRLMScorer,
    Verifier,
)
from reasoners.answers.arithmetic import arithmetic_check
from reasoners.bench import BenchConfig, progress_bar, run_bench, write_report
from reasoners.bench.tasks import load_task
from reasoners.llm.local import QWEN_NAME, resolve_local_path
from reasoners.testing import running_server

ROOT = Path(__file__).resolve().parent.parent

def server_binary(path: str | None) -> str:
    if path:
        return path
    script = ROOT / "benchmarks" / "build_llama_server.sh"
    return subprocess.run([str(script), sys.executable], check=True, capture_output=True, text=True).stdout.strip()


async def main(args: argparse.Namespace) -> None:
    everything = load_task("gsm8k")
    task = load_task("gsm8k", limit=args.limit)
    pool = [p.question for p in everything.problems[args.limit:]]  # Auto-CoT clusters unlabeled questions
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    cache = Cache(out / "cache.sqlite")
    demos_file = out / "autocot_demos.json"
    steps = args.autocot_max_steps
    if demos_file.exists():
        autocot = AutoCoT(demos=demos_file)
    else:
        autocot = AutoCoT(pool=pool, k=8, max_tries=10, max_steps=steps)
    scoring = LLM(f"local/{QWEN_NAME}", cache=cache)  # TRLM needs prompt logprobs: in-process
    gguf = resolve_local_path(QWEN_NAME)
    argv = [server_binary(args.server), "-m", str(gguf), "--host", "127.0.0.1", "--port", "{port}",
            "-c", str(8 * 4096), "-np", "8", "-t", str(args.threads), "--alias", "qwen"]
    with running_server(argv, seconds=300, port=args.port) as url:  # a fixed URL: the cache keys include it
        llm = LLM("openai/qwen", api_base=url, api_key="none", temperature=0.0, max_tokens=args.max_tokens,
                  cache=cache, timeout=1800)
        strategies = [
            ("cot", ChainOfThought()),
            ("sc:4", SelfConsistency(n=4)),
            ("sc:8", SelfConsistency(n=8)),
            ("sc:16", SelfConsistency(n=16)),
            # ties=first was the default when these rows ran; vote is the default now
            ("bon(n=8,scorer=verifier,ties=first)", BestOfN(n=8, scorer=Verifier(arithmetic_check), ties="first")),
            ("bon(n=8,scorer=mean_logprob,ties=first)", BestOfN(n=8, scorer=MeanLogprob(), ties="first")),
            ("bon(n=8,scorer=judge,ties=first)", BestOfN(n=8, scorer=LLMJudge(), ties="first")),
            ("bon(n=8,scorer=verifier,ties=vote)", BestOfN(n=8, scorer=Verifier(arithmetic_check), ties="vote")),
            ("bon(n=8,scorer=judge,ties=vote)", BestOfN(n=8, scorer=LLMJudge(), ties="vote")),
            ("bon(n=8,scorer=trlm,ties=first)", BestOfN(n=8, scorer=TRLMScorer(llm=scoring), ties="first")),
            ("fobar(forward=sc:8)", FOBAR(forward=SelfConsistency(n=8))),
            (f"sc(n=8,base=autocot(k=8,max_steps={steps}))", SelfConsistency(base=autocot, n=8)),
        ]
        if not demos_file.exists():  # build the demos once, and keep them beside the journal
            ready, _ = await autocot.aprepared(llm=llm)
            assert isinstance(ready, AutoCoT)
            AutoCoT.save(demos_file, ready.demos or [])
            strategies[-1] = (strategies[-1][0], SelfConsistency(base=ready, n=8))
        config = BenchConfig(task, strategies, llm, out, [None], concurrency=args.concurrency,
                             budgets_for={"fobar(forward=sc:8)": [args.fobar_budget]})
        with progress_bar("gsm8k") as progress:
            rows = await run_bench(config, progress=progress)
    done = len({r["problem_id"] for r in rows})
    title = f"gsm8k, {done} problems, Qwen2.5-Coder-1.5B (llama.cpp server)"
    for t in write_report(rows, out, title=title):
        print(f"{t['strategy']:>30} budget={t['budget'] or 'none'}: {t['accuracy']:.1%} "
              f"[{t['ci95'][0]:.1%}, {t['ci95'][1]:.1%}], {t['mean_tokens']:.0f} tokens")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=50, help="first N GSM8K test problems")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/gsm8k_qwen_sampling")
    parser.add_argument("--server", help="a llama-server binary (default: build one with build_llama_server.sh)")
    parser.add_argument("--max-tokens", type=int, default=640)
    parser.add_argument("--fobar-budget", type=int, default=6400, help="FOBAR's tokens per problem (SC@16 spends ~6400)")
    parser.add_argument("--autocot-max-steps", type=int, default=8,
                        help="Auto-CoT's rationale filter (published: 5; Qwen writes markdown, ~1.6 lines per step)")
    parser.add_argument("--concurrency", type=int, default=4, help="strategy runs in flight")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765, help="the server's port (part of the cache keys)")
    asyncio.run(main(parser.parse_args()))
