"""`reasoners run` on the embedded model: output, trace file, and exact cache replay."""

from __future__ import annotations

import json

from reasoners.cli import main

QUESTION = "A box has 4 red balls and 5 blue balls. How many balls are in the box?"


def test_run_twice_second_is_replayed_from_cache(capsys, tmp_path):
    cache = tmp_path / "cache.sqlite"
    trace = tmp_path / "trace.json"
    args = ["run", QUESTION, "--model", "local/smollm2", "--cache", str(cache), "--max-tokens", "160", "--json"]
    assert main([*args, "--trace", str(trace)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    assert first["usage"]["calls"] == 1 and first["usage"]["cache_hits"] == 0
    assert second["usage"]["cache_hits"] == second["usage"]["calls"] == 1  # zero model calls
    assert second["answer"] == first["answer"]
    assert second["candidates"][0]["text"] == first["candidates"][0]["text"]
    tree = json.loads(trace.read_text())
    assert tree["kind"] == "run" and tree["children"][0]["children"][0]["kind"] == "llm"


def test_plain_output_names_answer_and_usage(capsys, tmp_path):
    code = main(["run", QUESTION, "--model", "local/smollm2", "--cache", str(tmp_path / "c.sqlite"), "--max-tokens", "160",
                 "--budget-tokens", "400"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("answer: ")
    assert "confidence: " in out and "calls" in out and "cache hits" in out
