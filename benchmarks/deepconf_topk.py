"""Top-k token confidence for the committed GSM8K SC@16 traces, by reading them back through the model.

The SC@16 run (``benchmarks/results/gsm8k_qwen_sampling``) kept each generated token's own logprob,
not the top-k list DeepConf's token confidence ``-mean(top-k logprobs)`` needs. Generating them
again would cost the run's 10 hours; reading them costs one forward pass per trace: the prompt is
evaluated once per problem, then each trace's text is fed after it (teacher forcing) and the
``k`` largest logprobs at every position are read from the logits, the distribution the model
sampled that token from (before temperature, as the library reports logprobs live). The text is
tokenised again, so a trace can differ from its generation by a token where BPE merges otherwise;
the count of such traces is recorded.

Output, one line per problem (resumable: problems already written are skipped):
``{"id", "traces": [{"answer", "conf": [token confidence...], "generated": n, "read": m}]}``.

    .venv/bin/python benchmarks/deepconf_topk.py --k 5 \\
        --out benchmarks/results/deepconf_replay/topk5.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from deepconf_replay import N, RUN, Traces

from reasoners import Budget, ChainOfThought
from reasoners.bench.analyze import RunManifest
from reasoners.bench.tasks import load_task
from reasoners.core.trace import Trace
from reasoners.llm.local import load_local
from reasoners.strategies.base import Context


def read_back(model: Any, prompt: list[int], texts: list[str], k: int) -> list[list[float]]:
    """Token confidence at every position of each text fed after ``prompt`` (evaluated once)."""
    llama = model._llama
    llama.reset()
    llama.eval(prompt)
    start = llama.n_tokens
    out = []
    for text in texts:
        ids = model._tokenize(text) if text else []
        if not ids:
            out.append([])
            continue
        llama.n_tokens = start  # keep the prompt's evaluation; eval() drops the rest of the cache
        llama.eval(ids)
        rows = np.asarray(llama.scores[start - 1: start - 1 + len(ids)], dtype=np.float32)
        peak = rows.max(axis=1, keepdims=True)
        norm = peak[:, 0].astype(np.float64) + np.log(np.exp(rows - peak).sum(axis=1, dtype=np.float64))
        top = np.partition(rows, rows.shape[1] - k, axis=1)[:, -k:].astype(np.float64)  # the k largest logits
        out.append([round(float(norm[i] - top[i].mean()), 4) for i in range(len(ids))])  # -mean(top-k logprobs)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/deepconf_replay/topk5.jsonl"))
    args = p.parse_args()
    manifest = RunManifest.load(RUN)
    llm = manifest.replay_llm(RUN / "cache.sqlite")
    task = load_task("gsm8k", limit=manifest.limit)
    done = set()
    if args.out.exists():
        done = {json.loads(line)["id"] for line in args.out.read_text().splitlines() if line.strip()}
    model = load_local("qwen2.5-coder-1.5b")
    cot = ChainOfThought()

    async def draws(problem: Any) -> Any:
        ctx = Context(llm=llm, budget=Budget().meter(), trace=Trace("replay"), seed=manifest.seed)
        with ctx.trace.activate():
            return await Traces().solve(problem, ctx)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    for problem in task.problems:
        if problem.id in done:
            continue
        began = time.time()
        traces = asyncio.run(draws(problem))
        prompt = model._tokenize(model._format(cot.messages(problem)))
        texts = ["".join(t.token for t in tokens or []) for _, tokens in traces]
        confs = read_back(model, prompt, texts, args.k)
        rows = [{"answer": a, "conf": c, "generated": len(t or []), "read": len(c)}
                for (a, t), c in zip(traces, confs)]
        assert len(rows) == N
        with args.out.open("a") as f:
            f.write(json.dumps({"id": problem.id, "k": args.k, "traces": rows}) + "\n")
        print(problem.id, f"{time.time() - began:.0f}s", sum(r["read"] != r["generated"] for r in rows), flush=True)


if __name__ == "__main__":
    main()
