"""Precision and recall of the behaviour classifiers against the hand labels.

    .venv/bin/python benchmarks/behaviors_eval.py                      # lexical only (instant)
    .venv/bin/python -m llama_cpp.server --model ~/.cache/reasoners/models/qwen2.5-coder-1.5b-instruct.gguf \
        --host 127.0.0.1 --port 8777 --n_ctx 4096 --n_threads 2 --n_threads_batch 2 --model_alias qwen &
    .venv/bin/python benchmarks/behaviors_eval.py --llm openai/qwen --api-base http://127.0.0.1:8777/v1

Reads ``tests/data/behaviors/rationales.jsonl`` and ``labels.jsonl`` (80
rationales from the committed runs, labelled by reading against
``tests/data/behaviors/GUIDE.md``), classifies each with the lexical classifier
and, with ``--llm``, with the LLM classifier on that model (4 greedy calls per
rationale, cached in ``results/behaviors_eval/llm_cache.sqlite``, so a stopped
run resumes). The committed run served Qwen2.5-Coder-1.5B through
llama-cpp-python's server, which reuses the prompt prefix the four prompts of a
rationale share (the rationale comes first): about 60 s a rationale here against
about 110 s in-process, where every request starts from a reset model. A rationale shows a behaviour when its count is at least 1; the
table gives, per behaviour and classifier, the positives, precision, recall and
the confusion counts, over all rationales and over the uniform draw alone.
Writes ``results/behaviors_eval/eval.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from reasoners import LLM, Cache
from reasoners.bench.behaviors import BEHAVIORS, Classifier, LexicalClassifier, LLMClassifier

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests/data/behaviors"
OUT = ROOT / "benchmarks/results/behaviors_eval"


def load() -> list[dict[str, Any]]:
    texts = {x["id"]: x for x in map(json.loads, (DATA / "rationales.jsonl").read_text().splitlines())}
    out = []
    for label in map(json.loads, (DATA / "labels.jsonl").read_text().splitlines()):
        out.append({**texts[label["id"]], "labels": {b: label[b] for b in BEHAVIORS}})
    return out


def scores(items: list[dict[str, Any]], predicted: list[dict[str, int]]) -> dict[str, Any]:
    table = {}
    for b in BEHAVIORS:
        tp = sum(1 for x, p in zip(items, predicted) if x["labels"][b] and p[b] > 0)
        fp = sum(1 for x, p in zip(items, predicted) if not x["labels"][b] and p[b] > 0)
        fn = sum(1 for x, p in zip(items, predicted) if x["labels"][b] and not p[b] > 0)
        table[b] = {"positives": tp + fn, "tp": tp, "fp": fp, "fn": fn,
                    "precision": round(tp / (tp + fp), 3) if tp + fp else None,
                    "recall": round(tp / (tp + fn), 3) if tp + fn else None}
    return table


async def classify(items: list[dict[str, Any]], classifier: Classifier) -> tuple[list[dict[str, int]], int]:
    predicted, unjudged = [], 0
    for i, x in enumerate(items):
        found = await classifier.aclassify(x["text"])
        predicted.append(found.counts)
        unjudged += len(found.errors)
        if isinstance(classifier, LLMClassifier):
            print(f"{i + 1}/{len(items)} {found.counts} {found.errors or ''}", flush=True)
    return predicted, unjudged


async def main(args: argparse.Namespace) -> None:
    items = load()
    uniform = [i for i, x in enumerate(items) if x.get("draw") == "uniform"]
    classifiers: list[Classifier] = [LexicalClassifier()]
    if args.llm:
        OUT.mkdir(parents=True, exist_ok=True)
        llm = LLM(args.llm, api_base=args.api_base, cache=Cache(OUT / "llm_cache.sqlite"), concurrency=1,
                  timeout=600)
        classifiers.append(LLMClassifier(llm))
    report: dict[str, Any] = {"rationales": len(items), "uniform": len(uniform), "classifiers": {}}
    for classifier in classifiers:
        predicted, unjudged = await classify(items, classifier)
        name = classifier.name if classifier.name != "llm" else f"llm ({args.llm}{' at ' + args.api_base if args.api_base else ''})"
        report["classifiers"][name] = {
            "all": scores(items, predicted),
            "uniform": scores([items[i] for i in uniform], [predicted[i] for i in uniform]),
            "unjudged": unjudged,
            "predicted": {x["id"]: p for x, p in zip(items, predicted)},
        }
    if (OUT / "eval.json").exists() and not args.llm:  # keep a committed LLM row when rerunning lexical only
        old = json.loads((OUT / "eval.json").read_text())
        for name, row in old["classifiers"].items():
            report["classifiers"].setdefault(name, row)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "eval.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"{'classifier':<34} {'behaviour':<18} {'pos':>4} {'P':>6} {'R':>6}   tp fp fn   (uniform draw: P R)")
    for name, row in report["classifiers"].items():
        for b in BEHAVIORS:
            a, u = row["all"][b], row["uniform"][b]
            print(f"{name:<34} {b:<18} {a['positives']:>4} {fmt(a['precision']):>6} {fmt(a['recall']):>6}   "
                  f"{a['tp']:>2} {a['fp']:>2} {a['fn']:>2}   ({fmt(u['precision'])} {fmt(u['recall'])})")


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm", help="also run the LLM classifier on this model (e.g. local/qwen2.5-coder-1.5b)")
    parser.add_argument("--api-base", help="the server of an openai/<name> model (the cache keys include it)")
    asyncio.run(main(parser.parse_args()))
