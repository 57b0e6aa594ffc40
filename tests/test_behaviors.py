"""Reasoning-behaviour analysis: the lexical classifier on crafted snippets and near-misses, the LLM
classifier on scripted replies, the journal's samples, cache-only replay of a journal without texts,
``reasoners analyze`` on a folder and a trace, ``bench --behaviors``, and the committed evaluation
against the hand labels."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from reasoners import Budget, Candidate, Problem, Result
from reasoners.bench.behaviors import (
    BEHAVIORS,
    LexicalClassifier,
    LLMClassifier,
    classifier_named,
    find_behaviors,
    rationales,
)
from reasoners.bench import BenchConfig, parse_strategies, read_journal, run_bench
from reasoners.bench.analyze import RunManifest, analyze_folder, behavior_rates
from reasoners.bench.tasks import Task
from reasoners.cli import main
from reasoners.core.errors import ConfigError
from reasoners.testing import FakeLLM
from reasoners.testing.stub_server import Reply, StubServer

ROOT = Path(__file__).resolve().parents[1]
lexical = LexicalClassifier()


def count(text: str, behavior: str) -> int:
    return lexical.classify(text).counts[behavior]


@pytest.mark.parametrize("text", [
    "12 * 3 = 36. Let me check: 36 / 3 = 12, which matches the problem.",
    "So x = 5. Substituting 5 back into the first equation gives 2 * 5 + 1 = 11. Correct.",
    "The total is 260. Let's confirm this with Python code.",
    "We get x = -277. This result is not possible, because she cannot have a negative number of notes.",
    "Double-checking the sum: 49.50 + 67.50 + 126 = 243.",
])
def test_verification_is_found(text):
    assert count(text, "verification") >= 1


@pytest.mark.parametrize("text", [
    "She wrote a check for $50 and then checked her bag at the airport.",
    "His paycheck was $400; the checkout line was long and he played checkers.",
    "The confirmation email arrived, so Tom paid 3 * 4 = 12 dollars.",
    "Check-in starts at 9 am, so she waits 2 hours.",
])
def test_check_in_another_sense_is_not_verification(text):
    assert count(text, "verification") == 0


@pytest.mark.parametrize("text", [
    "25 + 3 = 28. That doesn't work. Let's try another combination: 25 - 3 = 22.",
    "So the price is $30. Wait, I made a mistake: the price was per dozen.",
    "The result is negative, which is wrong. Let's re-evaluate the problem.",
    "80 * 3 = 240 is too big. Instead, let's try 80 / 4 = 20.",
])
def test_backtracking_is_found(text):
    assert count(text, "backtracking") >= 1


@pytest.mark.parametrize("text", [
    "She actually sold 5 apples, so she has 10 left.",
    "No one else came, so there are 4 people.",
    "We try 5 first, and it works: 5 * 4 = 20.",
    "The shop was wrong about nothing; it sells 3 pens.",
])
def test_a_plain_forward_step_is_not_backtracking(text):
    assert count(text, "backtracking") == 0


def test_subgoals_are_counted_one_per_step():
    text = ("Step 1: find the cost of the apples: 3 * 2 = 6.\nStep 2: find the cost of the pears: 2 * 4 = 8.\n"
            "Step 3: add them: 6 + 8 = 14.")
    assert count(text, "subgoal_setting") == 3
    assert count("First, we need to find how many hours she works: 5 * 8 = 40.", "subgoal_setting") == 1
    assert count("We can start by filling the first empty cell with 4.", "subgoal_setting") == 1


@pytest.mark.parametrize("text", [
    "1. The answer is 5.",  # one numbered line is formatting, not a plan
    "The problem asks for the total number of apples. 3 + 4 = 7. The answer is 7.",
])
def test_formatting_and_restating_are_not_subgoals(text):
    assert count(text, "subgoal_setting") == 0


@pytest.mark.parametrize("text", [
    "To find the total cost, we first need to find the number of tickets: 30 / 5 = 6.",
    "To reach 24, we need to make 6 from the remaining numbers, because 4 * 6 = 24.",
    "Let's work backwards from the 5 vacuum cleaners she has left.",
])
def test_backward_chaining_is_found(text):
    assert count(text, "backward_chaining") >= 1


@pytest.mark.parametrize("text", [
    "We need to find how many apples John has. He has 3 + 4 = 7.",  # a restated question
    "To find P, we need to divide both sides by 0.75: P = 26.",  # an operation, not a required quantity
    "To solve this problem, we need to follow these steps.",
])
def test_a_restated_question_is_not_backward_chaining(text):
    assert count(text, "backward_chaining") == 0


def test_evidence_spans_point_into_the_text():
    text = "Step 1: find the cost.\nStep 2: find the total.\nLet me check: 2 + 2 = 4. That's wrong, let's try again."
    found = lexical.classify(text)
    assert {e.behavior for e in found.evidence} == {"subgoal_setting", "verification", "backtracking"}
    for e in found.evidence:
        assert text[e.start:e.end] == e.text
    assert found.counts == {b: sum(1 for e in found.evidence if e.behavior == b) for b in BEHAVIORS}


# --- the LLM classifier ---------------------------------------------------------------------------

RATIONALE = "First, we need the cost: 3 * 4 = 12.\nLet me check: 12 / 4 = 3, which matches.\nThe answer is 12."


def scripted(req):
    """Replies as a small model writes them: grounded quotes, an invented one, a bare count, nonsense."""
    if "Verification:" in req.prompt:
        return "> Let me check: 12 / 4 = 3, which matches.\n> I verified every step twice.\nCount: 2"
    if "Backtracking:" in req.prompt:
        return "Count: 0"
    if "Subgoal setting:" in req.prompt:
        return ">   first, we NEED the cost:\n3 * 4\nCount: 1"
    return "I am not sure what you mean."


def test_the_llm_classifier_counts_only_quotes_found_in_the_rationale():
    llm = FakeLLM(scripted)
    budget = Budget(tokens=100_000).meter()
    found = LLMClassifier(llm).classify(RATIONALE, budget=budget)
    assert found.counts == {"verification": 1, "backtracking": 0, "subgoal_setting": 1, "backward_chaining": 0}
    invented = [e for e in found.evidence if e.start < 0]
    assert [e.text for e in invented] == ["I verified every step twice."]  # kept as evidence, not counted
    sub = next(e for e in found.evidence if e.behavior == "subgoal_setting")
    assert RATIONALE[sub.start:sub.end] == "First, we need the cost:"  # case and spacing aside
    assert set(found.errors) == {"backward_chaining"}  # a reply with no quote and no count
    assert len(llm.requests) == 4 and budget.used.calls == 4  # one prompt per behaviour, all charged
    assert all(RATIONALE in r.prompt for r in llm.requests)


def test_the_llm_classifier_records_what_the_budget_refused():
    llm = FakeLLM(scripted)
    found = LLMClassifier(llm).classify(RATIONALE, budget=Budget(calls=2))
    assert len(found.errors) == 2 and all("BudgetExhausted" in v for v in found.errors.values())
    assert len(llm.requests) == 2


def test_classifier_names():
    assert classifier_named("lexical").name == "lexical"
    with pytest.raises(ConfigError, match="needs a model"):
        classifier_named("llm")
    with pytest.raises(ConfigError, match="lexical' or 'llm"):
        classifier_named("regex")


def test_rationales_come_from_results_and_traces():
    result = Result("3", candidates=[Candidate("a", "3", source="sc/0"), Candidate("", None)])
    assert rationales(result) == [("sc/0", "a")]
    trace = {"kind": "strategy", "name": "sc", "children": [
        {"kind": "strategy", "name": "cot", "children": [
            {"kind": "llm", "name": "m", "attrs": {"response": [{"text": "one"}, {"text": "two"}]}}]},
        {"kind": "score", "name": "m", "attrs": {"response": [{"text": "not a rationale"}]}}]}
    assert rationales(trace) == [("sc/cot", "one"), ("sc/cot", "two")]
    found = find_behaviors(Result("4", candidates=[Candidate("Let me verify: 2 + 2 = 4.", "4", source="cot")]))
    assert [(where, b.counts["verification"]) for where, b in found] == [("cot", 1)]


# --- journals, replay and the CLI -----------------------------------------------------------------

TEXT = "First, we need to find the total. Let me check: 6 * 7 = 42, which matches. The answer is 42."


def test_the_journal_keeps_each_sample_text_answer_and_correctness(tmp_path):
    problems = [Problem("What is 6 times 7?", gold="42", id="p0")]
    task = Task("toy", problems, lambda p, a: a == p.gold)
    llm = FakeLLM([TEXT, "The answer is 41.", TEXT])
    config = BenchConfig(task, parse_strategies("sc:3"), llm, tmp_path, [None], concurrency=1)
    [row] = asyncio.run(run_bench(config))
    assert [(s["answer"], s["correct"], s["chosen"]) for s in row["samples"]] == \
        [("42", True, True), ("41", False, False), ("42", True, True)]
    assert row["samples"][0]["text"] == TEXT
    table = asyncio.run(analyze_folder(tmp_path, lexical))
    [line] = table
    assert line["samples"] == 3 and line["correct"]["samples"] == 2 and line["incorrect"]["samples"] == 1
    assert line["correct"]["rates"]["verification"] == 1.0 and line["incorrect"]["rates"]["verification"] == 0.0
    saved = json.loads((tmp_path / "behaviors.json").read_text())
    assert saved["behaviors"] == list(BEHAVIORS) and saved["classifier"] == "lexical"
    assert (tmp_path / "behaviors.png").stat().st_size > 0


def stub_answer(body: dict) -> Reply:
    return Reply.ok(TEXT if "6" in body["messages"][-1]["content"] else "The answer is 7.")


@pytest.mark.slow
def test_analyze_replays_a_journal_without_texts_from_the_cache_alone(tmp_path, capsys):
    out = tmp_path / "run"
    with StubServer(respond=stub_answer) as srv:
        assert main(["bench", "--task", "gsm8k", "--limit", "2", "--strategies", "cot,sc:2", "--model", "openai/stub",
                     "--api-base", srv.url, "--out", str(out)]) == 0
        served = len(srv.requests)
        url = srv.url
    manifest = RunManifest.load(out)
    assert manifest.model == "openai/stub" and manifest.llm["api_base"] == url and "api_key" not in manifest.llm
    # a journal from before samples were kept: strip them, and add a row no spec can build
    rows = read_journal(out / "results.jsonl")
    kept = [r["samples"] for r in rows]
    for r in rows:
        del r["samples"]
    rows.append({**rows[0], "strategy": "custom"})
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    manifest.strategies = {"custom": None}
    manifest.save(out)
    assert main(["analyze", str(out)]) == 0  # the stub is gone: nothing could be sent
    saved = json.loads((out / "behaviors.json").read_text())
    cells = {(c["strategy"], c["problem_id"]): c for c in saved["cells"]}
    assert {c["recovered"] for k, c in cells.items() if k[0] != "custom"} == {"replay"}
    assert [len(c["samples"]) for c in saved["cells"][:4]] == [len(s) for s in kept]
    custom = [c for c in saved["cells"] if c["strategy"] == "custom"]
    assert custom and all(c["recovered"] == "missing" and "no spec" in c["reason"] for c in custom)
    assert served == len(srv.requests)
    printed = capsys.readouterr().out
    assert "sc:2" in printed and "behaviors.json" in printed


def test_a_replay_miss_is_recorded_not_fatal(tmp_path):
    out = tmp_path / "run"
    with StubServer(respond=stub_answer) as srv:
        assert main(["bench", "--task", "gsm8k", "--limit", "1", "--strategies", "sc:2", "--model", "openai/stub",
                     "--api-base", srv.url, "--out", str(out)]) == 0
    rows = read_journal(out / "results.jsonl")
    for r in rows:
        del r["samples"]
        r["strategy"] = "sc:3"  # asks for a third sample the cache never saw
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    [line] = asyncio.run(analyze_folder(out, lexical))
    [cell] = json.loads((out / "behaviors.json").read_text())["cells"]
    assert cell["recovered"] == "partial" and "1 calls were not in the cache" in cell["reason"]
    assert line["samples"] == 2 and line["partial"] == 1


def test_bench_behaviors_adds_the_columns(tmp_path, capsys):
    with StubServer(respond=stub_answer) as srv:
        assert main(["bench", "--task", "gsm8k", "--limit", "2", "--strategies", "sc:2", "--model", "openai/stub",
                     "--api-base", srv.url, "--out", str(tmp_path), "--behaviors"]) == 0
    [line] = json.loads((tmp_path / "summary.json").read_text())
    assert set(BEHAVIORS) <= set(line) and 0 < line["verification"] <= 1
    assert "| verification |" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "behaviors.json").is_file()


def test_analyze_a_trace_writes_beside_it(tmp_path):
    trace = tmp_path / "t.json"
    with StubServer(respond=stub_answer) as srv:
        assert main(["run", "What is 6 times 7?", "--strategy", "sc", "--model", "openai/stub", "--api-base", srv.url,
                     "--no-cache", "--trace", str(trace)]) == 0
    assert main(["analyze", "--trace", str(trace)]) == 0
    saved = json.loads((tmp_path / "behaviors.json").read_text())
    [line] = saved["summary"]
    assert line["samples"] >= 2 and line["rates"]["verification"] == 1.0
    assert (tmp_path / "behaviors.png").stat().st_size > 0


@pytest.mark.parametrize("argv,message", [
    (["analyze"], "give a bench folder or --trace"),
    (["analyze", "{tmp}/nowhere"], "no such bench folder"),
    (["analyze", "{tmp}"], "holds no results.jsonl"),
    (["analyze", "--trace", "{tmp}/missing.json"], "no such trace file"),
    (["analyze", "--trace", "{tmp}/bad.json"], "is not a trace"),
    (["analyze", "{tmp}", "--classifier", "llm", "--budget-tokens", "0"], "--budget-tokens must be >= 1"),
])
def test_bad_analyze_input_is_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_journal_without_texts_or_manifest_says_so(tmp_path, capsys):
    (tmp_path / "results.jsonl").write_text(json.dumps({"strategy": "cot", "budget": None, "problem_id": "0",
                                                        "answer": "1", "correct": True}) + "\n")
    assert main(["analyze", str(tmp_path)]) == 2
    assert "no run.json" in capsys.readouterr().err


def test_rates_split_by_correctness():
    def sample(correct, **counts):
        return {"correct": correct, "counts": {b: counts.get(b, 0) for b in BEHAVIORS}}

    cells = [{"strategy": "sc", "budget": None, "recovered": "journal",
              "samples": [sample(True, verification=2), sample(False), sample(None, backtracking=1)]}]
    [line] = behavior_rates(cells)
    assert line["rates"]["verification"] == pytest.approx(1 / 3, abs=1e-3)
    assert line["mean_counts"]["verification"] == pytest.approx(2 / 3, abs=1e-3)
    assert line["correct"]["rates"]["verification"] == 1.0 and line["incorrect"]["rates"]["verification"] == 0.0
    assert line["correct"]["samples"] + line["incorrect"]["samples"] == 2  # the unscored one is in neither


def test_the_committed_evaluation_is_what_the_lexical_classifier_gives_today():
    """benchmarks/results/behaviors_eval/eval.json holds the table README reports; it must not drift."""
    committed = json.loads((ROOT / "benchmarks/results/behaviors_eval/eval.json").read_text())["classifiers"]["lexical"]
    labels = [json.loads(line) for line in (ROOT / "tests/data/behaviors/labels.jsonl").read_text().splitlines()]
    texts = {x["id"]: x["text"] for x in map(json.loads, (ROOT / "tests/data/behaviors/rationales.jsonl")
                                             .read_text().splitlines())}
    assert len(labels) >= 60
    for b in BEHAVIORS:
        tp = sum(1 for x in labels if x[b] and lexical.classify(texts[x["id"]]).shows(b))
        fp = sum(1 for x in labels if not x[b] and lexical.classify(texts[x["id"]]).shows(b))
        assert (committed["all"][b]["tp"], committed["all"][b]["fp"]) == (tp, fp)
        assert committed["all"][b]["positives"] == sum(x[b] for x in labels)


def test_committed_runs_carry_a_manifest_for_replay():
    for folder in ("gsm8k_qwen_sampling", "gsm8k_qwen_cot_vs_sc5", "backtrack_countdown_smollm2",
                   "backtrack_sudoku_smollm2"):
        manifest = RunManifest.load(ROOT / "benchmarks/results" / folder)
        assert manifest.task and manifest.model and "api_key" not in manifest.llm


def test_copying_a_folder_keeps_it_analysable(tmp_path):
    """{folder} in a manifest spec follows the folder, wherever it is copied."""
    src = ROOT / "benchmarks/results/gsm8k_qwen_sampling"
    dst = tmp_path / "copy"
    dst.mkdir()
    shutil.copy(src / "run.json", dst)
    shutil.copy(src / "autocot_demos.json", dst)
    spec = RunManifest.load(dst).strategies["sc(n=8,base=autocot(k=8,max_steps=8))"]
    assert spec and "{folder}" in spec
    strategy = parse_strategies(spec.replace("{folder}", str(dst)))[0][1]
    assert strategy.base.demos  # the demos were read from the copy
