"""`reasoners bench` end to end on the embedded model: journal, table and plot."""

from __future__ import annotations

import json
from pathlib import Path

from reasoners.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "gsm8k_test_first30.jsonl"


def test_bench_writes_table_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["bench", "--task", "gsm8k", "--model", "local/smollm2", "--data", str(DATA), "--limit", "2",
            "--strategies", "cot,sc:2",
            "--max-tokens", "48", "--budgets", "150,400", "--out", str(out)]
    assert main(args) == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * 2
    assert all(r["usage"]["total_tokens"] <= r["budget"] for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert {(t["strategy"], t["budget"]) for t in summary} == {
        ("cot", 150), ("cot", 400), ("sc:2", 150), ("sc:2", 400)
    }
    png = (out / "accuracy_vs_tokens.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert "| strategy |" in (out / "summary.md").read_text()
    # Rerun: everything is in the journal, nothing runs again.
    capsys.readouterr()
    assert main(args) == 0
    assert len((out / "results.jsonl").read_text().splitlines()) == 8


def test_one_strategy_with_its_own_budget(local_llm, tmp_path):
    import asyncio

    from reasoners.bench import BenchConfig, parse_strategies, run_bench
    from reasoners.bench.tasks import load_task

    task = load_task("gsm8k", path=DATA, limit=1)
    config = BenchConfig(task, parse_strategies("cot,sc:2"), local_llm, tmp_path, [None], concurrency=1,
                         budgets_for={"sc:2": [300]})
    rows = asyncio.run(run_bench(config))
    assert {(r["strategy"], r["budget"]) for r in rows} == {("cot", None), ("sc:2", 300)}
    [sc] = [r for r in rows if r["strategy"] == "sc:2"]
    assert sc["usage"]["total_tokens"] <= 300
