"""Behaviour analysis against the embedded SmolLM2: a real bench run's samples, its replay from the cache
alone (no model call), the committed Sudoku run recovered from its cache, and the LLM classifier."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from reasoners import Budget, Cache
from reasoners.bench.behaviors import BEHAVIORS, LexicalClassifier, LLMClassifier
from reasoners.bench import read_journal
from reasoners.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_a_real_run_replays_from_its_cache_with_the_same_texts(tmp_path):
    out = tmp_path / "run"
    assert main(["bench", "--task", "gsm8k", "--limit", "1", "--strategies", "cot,sc:2", "--model", "local/smollm2",
                 "--max-tokens", "48", "--out", str(out), "--behaviors"]) == 0
    [line, *_] = json.loads((out / "summary.json").read_text())
    assert set(BEHAVIORS) <= set(line)
    rows = read_journal(out / "results.jsonl")
    texts = [[s["text"] for s in r["samples"]] for r in rows]
    assert [len(t) for t in texts] == [1, 2] and all(t for ts in texts for t in ts)
    for r in rows:  # as an old journal: no texts
        del r["samples"]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    entries = len(Cache(out / "cache.sqlite"))
    assert main(["analyze", str(out)]) == 0
    assert len(Cache(out / "cache.sqlite")) == entries  # a replay reads the cache and adds nothing to it
    cells = json.loads((out / "behaviors.json").read_text())["cells"]
    assert [c["recovered"] for c in cells] == ["replay", "replay"]
    lexical = LexicalClassifier()
    for cell, ts in zip(cells, texts):
        assert [s["counts"] for s in cell["samples"]] == [lexical.classify(t).counts for t in ts]


def test_the_committed_sudoku_run_is_recovered_without_a_model_call(tmp_path):
    folder = tmp_path / "sudoku"
    shutil.copytree(ROOT / "benchmarks/results/backtrack_sudoku_smollm2", folder)
    entries = len(Cache(folder / "cache.sqlite"))
    assert main(["analyze", str(folder)]) == 0
    assert len(Cache(folder / "cache.sqlite")) == entries
    saved = json.loads((folder / "behaviors.json").read_text())
    linear = [c for c in saved["cells"] if c["strategy"].startswith("linear")]
    assert len(linear) == 40 and {c["recovered"] for c in linear} == {"replay"}
    assert all(len(c["samples"]) == 1 for c in linear)
    assert (folder / "behaviors.png").stat().st_size > 0


def test_the_llm_classifier_on_the_embedded_model(local_llm):
    text = ("First, we need to find the cost of the apples: 3 * 2 = 6.\n"
            "Let me check: 6 / 2 = 3 apples, which matches.\nThe answer is 6.")
    budget = Budget(tokens=20_000).meter()
    found = LLMClassifier(local_llm, max_tokens=64).classify(text, budget=budget)
    assert budget.used.calls == 4 and 0 < budget.used.total_tokens <= 20_000
    assert set(found.counts) == set(BEHAVIORS) and not found.errors.keys() - set(BEHAVIORS)
    for e in found.evidence:  # whatever the small model said, what is counted is in the text
        if e.start >= 0:
            assert e.text.split()[0].lower() in text[e.start:e.end].lower()
    counted = {b: sum(1 for e in found.evidence if e.behavior == b and e.start >= 0) for b in BEHAVIORS}
    assert found.counts == counted
