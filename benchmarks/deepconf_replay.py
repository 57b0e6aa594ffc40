"""DeepConf replayed on the committed GSM8K SC@16 samples (Qwen2.5-Coder-1.5B, 50 problems), no model call.

The samples come back from ``benchmarks/results/gsm8k_qwen_sampling/cache.sqlite`` through a
cache-only client: the same requests as that run's ``sc:16`` (same seeds, temperature 0.7,
``logprobs`` with one top logprob), so every trace is the one SC@16 voted with. Those requests
kept only each chosen token's logprob, so token confidence comes in two signals:

- ``chosen``: the chosen token's probability (:func:`reasoners.llm.confidence.token_confidence`
  without a top list), a weaker signal than the paper's;
- ``top5``: the paper's ``-mean(top-5 logprobs)``, read back for the same traces by
  ``benchmarks/deepconf_topk.py`` (one forward pass per trace, ``topk5.jsonl``).

Compared on the same 50 problems and the same traces:
- SC@16 (majority), weighted SC@16 (exp mean logprob);
- offline DeepConf: keep the top ``eta``% traces by a trace confidence, confidence-weighted vote;
- online DeepConf, simulated as the paper does offline: ``warmup`` traces whole set the threshold
  (the ``100 - eta`` percentile of their lowest groups); each later trace (in seed order) is cut at
  its first group below it and charged the tokens up to there; sampling stops at ``consensus``.
  The library's online mode does the same live (``tests/integration/test_deepconf_real.py``).
Each policy's accuracy, mean tokens per problem (prompt + completion of the traces it drew, what the
budget charges), the generated tokens alone as a share of SC@16's (the paper's measure), and a paired
sign test against SC@16; beside them the adaptive allocator's runs at several totals on the
same samples (``gsm8k_allocation``).

    .venv/bin/python benchmarks/deepconf_replay.py --out benchmarks/results/deepconf_replay
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from reasoners import Budget, ChainOfThought, DeepConf  # noqa: E402
from reasoners.answers import same_answer, vote  # noqa: E402
from reasoners.bench.analyze import RunManifest  # noqa: E402
from reasoners.bench.tasks import load_task  # noqa: E402
from reasoners.llm.confidence import measure_confidence, window_means  # noqa: E402
from reasoners.strategies.base import Context, Strategy  # noqa: E402
from reasoners.strategies.deepconf import _percentile  # noqa: E402
from reasoners.strategies.sampling import draw_samples  # noqa: E402
from reasoners.core.trace import Trace  # noqa: E402

RUN = Path("benchmarks/results/gsm8k_qwen_sampling")
ALLOCATION = Path("benchmarks/results/gsm8k_allocation/summary.json")
N, WINDOW = 16, 32
Trace_ = tuple[Any, list[float]]  # a trace's answer and its token confidences


class Traces(Strategy):
    """SC@16's draws, kept whole: each sample's answer and token logprobs."""

    name = "traces"

    async def solve(self, problem: Any, ctx: Context) -> Any:
        sub = ctx.with_sampling({"top_logprobs": 1})
        results = await draw_samples(ChainOfThought(), problem, sub, range(N), 0.7, need_logprobs="replay")
        return [(r.answer, r.candidates[0].metadata.get("token_logprobs") if r.candidates else None) for r in results]


def sign_test(fixed: int, broken: int) -> float:
    n, k = fixed + broken, min(fixed, broken)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def online(traces: list[Trace_], prompt: int, eta: float, warmup: int,
           consensus: float) -> tuple[str | None, int, int, int]:
    """The online policy on traces in seed order: (answer, tokens spent, of them generated, traces cut)."""
    spent, drawn, votes, lows, cut = 0, 0, [], [], 0
    for i, (answer, conf) in enumerate(traces):
        groups = window_means(conf, WINDOW)
        drawn += 1
        if i < warmup:
            spent += prompt + len(conf)
            lows.append(min(groups) if groups else 0.0)
            votes.append((answer, measure_confidence(conf, "lowest", WINDOW), lows[-1]))
            continue
        threshold = _percentile(lows, 100 - eta)
        below = next((j for j, g in enumerate(groups) if g < threshold), None)
        if below is not None:  # cut once its first full window below the threshold is complete
            spent += prompt + below + min(WINDOW, len(conf))
            cut += 1
        else:
            spent += prompt + len(conf)
            votes.append((answer, measure_confidence(conf, "lowest", WINDOW), min(groups) if groups else 0.0))
        done = [(a, c) for a, c, _ in votes if a is not None and c is not None]
        tally = vote([a for a, _ in done], [c for _, c in done])
        if tally.winner is not None and tally.share >= consensus:
            break
    threshold = _percentile(lows, 100 - eta)
    kept = [(a, c) for k, (a, c, low) in enumerate(votes) if a is not None and c is not None
            and (k >= warmup or low >= threshold)] or [(a, c) for a, c, _ in votes if a is not None and c is not None]
    return vote([a for a, _ in kept], [c for _, c in kept]).winner, spent, spent - drawn * prompt, cut


def offline_and_online(signal: str, traces: list[Trace_], prompt: int, whole: int, add: Any) -> None:
    """Every DeepConf policy of the table on one problem's traces, under one confidence signal."""
    answers = [a for a, _ in traces]
    for measure in ("bottom10", "lowest", "tail", "mean"):
        confs = [measure_confidence(c, measure, WINDOW) for _, c in traces]
        scored = sorted([(c, a) for c, a in zip(confs, answers) if c is not None and a is not None],
                        key=lambda x: -x[0])
        for eta in (10, 50, 90):
            kept = scored[: max(1, math.ceil(len(scored) * eta / 100))]
            add(f"{signal}: offline {measure} eta={eta}", vote([a for _, a in kept], [c for c, _ in kept]).winner,
                whole, whole - len(traces) * prompt)
    for eta in (10, 90):  # the paper's consensus 0.95; a small grid beside it (chosen on these 50: in-sample)
        for warmup, consensus in ((4, 0.95), (4, 0.8), (2, 0.8), (2, 0.95)):
            answer, spent, generated, cut = online(traces, prompt, eta, warmup=warmup, consensus=consensus)
            name = f"{signal}: online eta={eta}" + ("" if (warmup, consensus) == (4, 0.95) else
                                                    f" warmup={warmup} consensus={consensus}")
            add(name, answer, spent, generated, cut=cut)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/deepconf_replay"))
    p.add_argument("--topk", type=Path, default=Path("benchmarks/results/deepconf_replay/topk5.jsonl"),
                   help="the top-k confidences of the same traces (benchmarks/deepconf_topk.py); skipped if absent")
    p.add_argument("--live", type=Path, default=Path("benchmarks/results/deepconf_live_qwen"),
                   help="a live online DeepConf bench run on the same problems, compared with SC@16; skipped if absent")
    args = p.parse_args()
    manifest = RunManifest.load(RUN)
    llm = manifest.replay_llm(RUN / "cache.sqlite")
    task = load_task("gsm8k", limit=manifest.limit)
    journal = [json.loads(line) for line in (RUN / "results.jsonl").read_text().splitlines() if line.strip()]
    sc16 = {r["problem_id"]: r for r in journal if r["strategy"] == "sc:16" and not r.get("error")}
    topk = {}
    if args.topk.exists():
        topk = {d["id"]: d for d in map(json.loads, args.topk.read_text().splitlines()) if d}
    problems = [p for p in task.problems if p.id in topk] if topk else task.problems

    async def draws(problem: Any) -> Any:
        ctx = Context(llm=llm, budget=Budget().meter(), trace=Trace("replay"), seed=manifest.seed)
        with ctx.trace.activate():
            return await Traces().solve(problem, ctx)

    rows: dict[str, list[dict[str, Any]]] = {}
    missing = mismatched = 0
    for problem in problems:
        traces = asyncio.run(draws(problem))
        missing += sum(1 for _, t in traces if not t)
        prompt = sc16[problem.id]["usage"]["prompt_tokens"] // N
        whole = sum(prompt + len(t or []) for _, t in traces)
        right = lambda a: bool(a is not None and same_answer(a, problem.gold, "number"))  # noqa: E731
        answers = [a for a, _ in traces]

        def add(name: str, answer: str | None, tokens: int, generated: int, **extra: Any) -> None:
            rows.setdefault(name, []).append({"id": problem.id, "correct": right(answer), "tokens": tokens,
                                              "generated": generated, **extra})

        generated = whole - len(traces) * prompt
        add("sc@16", vote(answers).winner, whole, generated)
        assert same_answer(vote(answers).winner, sc16[problem.id]["answer"], "number") or sc16[problem.id]["answer"] \
            is None, "the replay must be SC@16's own samples"
        weights = [math.exp(sum(x.logprob for x in t) / len(t)) if t else 0.0 for _, t in traces]
        add("weighted sc@16", vote(answers, weights).winner, whole, generated)
        offline_and_online("chosen", [(a, [math.exp(x.logprob) for x in t or []]) for a, t in traces], prompt,
                           whole, add)
        if topk:
            read = topk[problem.id]["traces"]
            assert [r["answer"] for r in read] == answers, "top-k file and cache disagree on the traces"
            mismatched += sum(1 for r in read if abs(r["read"] - r["generated"]) > 1)
            # a read-back trace lacks the end-of-text token its generation logged: its count stays the generated one
            offline_and_online("top5", [(r["answer"], r["conf"]) for r in read], prompt, whole, add)
    reference = {r["id"]: r["correct"] for r in rows["sc@16"]}
    table = []
    for name, got in rows.items():
        fixed = sum(1 for r in got if r["correct"] and not reference[r["id"]])
        broken = sum(1 for r in got if not r["correct"] and reference[r["id"]])
        table.append({"policy": name, "correct": sum(r["correct"] for r in got), "problems": len(got),
                      "mean_tokens": round(sum(r["tokens"] for r in got) / len(got)),
                      "generated_share": round(sum(r["generated"] for r in got)
                                               / sum(r["generated"] for r in rows["sc@16"]), 3), "fixed": fixed,
                      "broken": broken, "p": round(sign_test(fixed, broken), 3),
                      **({"cut": sum(r.get("cut", 0) for r in got)} if "online" in name else {})})
    allocation = [r for r in json.loads(ALLOCATION.read_text()) if r["strategy"].startswith("adaptive")] \
        if ALLOCATION.exists() and len(problems) == len(task.problems) else []
    # the library's own offline DeepConf on the same samples must agree with the table's
    lib = DeepConf(n=N, eta=10, measure="bottom10", window=WINDOW, top_k=1)
    check = [lib.run(p, llm=llm, seed=manifest.seed).answer for p in problems[:5]]
    ours = [r for r in rows["chosen: offline bottom10 eta=10"][:5]]
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"command": "benchmarks/deepconf_replay.py", "run": str(RUN), "traces": N, "window": WINDOW,
               "problems": len(problems), "traces_without_logprobs": missing,
               "top5_traces_read_differently": mismatched, "table": table,
               "adaptive_allocation": [{k: r[k] for k in ("strategy", "budget", "accuracy", "mean_tokens")}
                                       for r in allocation],
               "library_check": {"answers": check, "agrees": [
                   same_answer(a, problems[i].gold, "number") == ours[i]["correct"] for i, a in enumerate(check)]}}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = [f"| policy | correct /{len(problems)} | mean tokens | generated tokens, share of SC@16's "
             "| vs SC@16: fixed / broken (p) |", "|---|---|---|---|---|"]
    for t in table:
        lines.append(f"| {t['policy']} | {t['correct']} | {t['mean_tokens']} | {t['generated_share']:.0%} "
                     f"| {t['fixed']} / {t['broken']} ({t['p']}){' , cut ' + str(t['cut']) if 'cut' in t else ''} |")
    for r in allocation:
        lines.append(f"| {r['strategy']} total {r['budget']} | {round(r['accuracy'] * len(problems))} | "
                     f"{round(r['mean_tokens'])} | | (gsm8k_allocation) |")
    if (args.live / "results.jsonl").exists():
        live = live_rows(args.live, sc16, warmup=4)
        summary["live"] = live
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        lines += ["", f"Live ({args.live}, {live['problems']} problems, the embedded model, top-5 logprobs):", "",
                  "| policy | correct | mean tokens | generated tokens, share of SC@16's | traces drawn "
                  "| later traces cut |", "|---|---|---|---|---|---|",
                  f"| SC@16 (committed run, same problems) | {live['sc16_correct']} | {live['sc16_tokens']} | 100% "
                  "| 16 | |",
                  f"| {live['strategy']} | {live['correct']} | {live['tokens']} | {live['generated_share']:.0%} "
                  f"| {live['traces']} | {live['cut']} of {live['later']} |"]
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(table, allocation, len(problems), args.out / "accuracy_vs_tokens.png")


def live_rows(folder: Path, sc16: dict[str, dict[str, Any]], warmup: int) -> dict[str, Any]:
    """The live run's accuracy and tokens beside SC@16's on the same problems (the committed run:
    the same model and prompts, behind llama.cpp's server rather than embedded). A later trace
    that ended without an answer was cut (its text stops mid-thought; the journal keeps texts)."""
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if not r.get("error") and r["problem_id"] in sc16]
    later = [s for r in rows for s in r["samples"] if int(s["source"].rsplit("#", 1)[1]) >= warmup]
    return {"strategy": rows[0]["strategy"] if rows else None, "problems": len(rows),
            "correct": sum(bool(r["correct"]) for r in rows),
            "tokens": round(sum(r["usage"]["total_tokens"] for r in rows) / max(1, len(rows))),
            "traces": round(sum(r["candidates"] for r in rows) / max(1, len(rows)), 1),
            "later": len(later), "cut": sum(1 for s in later if s["answer"] is None),
            "sc16_correct": sum(bool(sc16[r["problem_id"]]["correct"]) for r in rows),
            "sc16_tokens": round(sum(sc16[r["problem_id"]]["usage"]["total_tokens"] for r in rows) / max(1, len(rows))),
            "generated_share": round(sum(r["usage"]["completion_tokens"] for r in rows) / max(1, sum(
                sc16[r["problem_id"]]["usage"]["completion_tokens"] for r in rows)), 3),
            "per_problem": [{"id": r["problem_id"], "correct": r["correct"], "tokens": r["usage"]["total_tokens"],
                             "sc16_correct": sc16[r["problem_id"]]["correct"],
                             "sc16_tokens": sc16[r["problem_id"]]["usage"]["total_tokens"]} for r in rows]}


def plot(table: list[dict[str, Any]], allocation: list[dict[str, Any]], problems: int, path: Path) -> None:
    """Accuracy against mean tokens: SC, weighted SC, the adaptive allocator's curve, DeepConf's points."""
    fig, ax = plt.subplots(figsize=(8, 5))
    styles = {"chosen": ("tab:blue", "chosen-token confidence"), "top5": ("tab:red", "top-5 confidence")}
    for signal, (color, label) in styles.items():
        for kind, marker in (("offline", "."), ("online", "s")):
            pts = [t for t in table if t["policy"].startswith(f"{signal}: {kind}")]
            if pts:
                ax.scatter([t["mean_tokens"] for t in pts], [t["correct"] / problems for t in pts], marker=marker,
                           color=color, alpha=0.6, label=f"DeepConf {kind}, {label}")
    for t in table:
        if t["policy"] in ("sc@16", "weighted sc@16"):
            ax.scatter(t["mean_tokens"], t["correct"] / problems, marker="*", s=120, color="black")
            ax.annotate(t["policy"], (t["mean_tokens"], t["correct"] / problems), fontsize=8)
    for rule, style in (("adaptive(margin)", "g-o"), ("adaptive(beta)", "y-o")):
        pts = [r for r in allocation if r["strategy"] == rule]
        if pts:
            ax.plot([r["mean_tokens"] for r in pts], [r["accuracy"] for r in pts], style, markersize=3,
                    label=f"allocator {rule} (gsm8k_allocation)")
    ax.set_xlabel("mean tokens per problem")
    ax.set_ylabel(f"accuracy ({problems} GSM8K problems)")
    ax.set_title("DeepConf replayed on SC@16's samples (Qwen2.5-Coder-1.5B)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
