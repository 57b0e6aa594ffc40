"""The harness: strategy specs, Wilson intervals, resume without repeating model calls."""

from __future__ import annotations

import asyncio
import json

import pytest

from reasoners import AuthError, Cache, ConfigError, Problem, RetryPolicy
from reasoners.bench import (
    BenchConfig,
    parse_strategies,
    progress_bar,
    read_journal,
    run_bench,
    summarize,
    wilson,
    write_report,
)
from reasoners.bench.tasks import Task
from reasoners.testing import FakeLLM, FakeResponse


def make_task(n: int) -> Task:
    problems = [Problem(f"What is {i} plus 1?", gold=str(i + 1), id=f"p{i}") for i in range(n)]
    return Task("toy", problems, lambda p, a: a == p.gold)


def number_in(prompt: str) -> str:
    return prompt.split("What is ")[1].split()[0]


def asked(llm: FakeLLM) -> list[str]:
    """The numbers of the problems the model was asked about."""
    return [number_in(r.prompt) for r in llm.requests]


def answer_right(req):
    return f"The answer is {int(number_in(req.prompt)) + 1}."


def test_parse_strategies():
    specs = parse_strategies("cot, sc:8 ,bon:2")
    assert [s for s, _ in specs] == ["cot", "sc:8", "bon:2"]
    assert specs[1][1].n == 8
    with pytest.raises(ConfigError, match="unknown strategy"):
        parse_strategies("cot,magic")
    with pytest.raises(ConfigError, match="N >= 1"):
        parse_strategies("sc:zero")
    with pytest.raises(ConfigError, match="does not take"):
        parse_strategies("cot:3")


def test_wilson_interval():
    low, high = wilson(15, 30)
    assert low == pytest.approx(0.331, abs=0.002) and high == pytest.approx(0.669, abs=0.002)
    assert wilson(0, 10)[0] == 0.0


def test_resume_repeats_no_model_call(tmp_path):
    task = make_task(6)
    calls = {"n": 0}

    def dies_after_three(req):
        calls["n"] += 1
        if calls["n"] > 3:
            return FakeResponse(error=RuntimeError("killed"))
        return FakeResponse(answer_right(req))

    first = FakeLLM(dies_after_three, cache=Cache(tmp_path / "cache.sqlite"), retry=RetryPolicy(attempts=1))
    config = BenchConfig(task, parse_strategies("cot"), first, tmp_path, [None], concurrency=1)
    asyncio.run(run_bench(config))  # failed problems are error rows; the run goes on
    journal = read_journal(tmp_path / "results.jsonl")
    assert [r["problem_id"] for r in journal if not r.get("error")] == ["p0", "p1", "p2"]
    errors = [r for r in journal if r.get("error")]
    assert [r["problem_id"] for r in errors] == ["p3", "p4", "p5"]
    assert all("correct" not in r and r["error"]["type"].endswith("Error") for r in errors)
    assert all("\n" not in r["error"]["message"] for r in errors)

    second = FakeLLM(answer_right, cache=Cache(tmp_path / "cache.sqlite"))
    config = BenchConfig(task, parse_strategies("cot"), second, tmp_path, [None], concurrency=1)
    rows = asyncio.run(run_bench(config))
    ids = [r["problem_id"] for r in read_journal(tmp_path / "results.jsonl")]
    assert sorted(ids) == [f"p{i}" for i in range(6)] and len(ids) == len(set(ids)) == len(rows)
    assert sorted(asked(second)) == ["3", "4", "5"]  # finished problems were not asked again


@pytest.mark.slow
def test_a_failure_keeps_the_runs_in_flight_and_starts_no_more(tmp_path):
    def p0_fails(req):
        if "What is 0 " in req.prompt:
            return FakeResponse(error=AuthError("revoked"))  # not retried: fails while p1 is in flight
        return FakeResponse(answer_right(req), delay=1.0)

    llm = FakeLLM(p0_fails)
    config = BenchConfig(make_task(5), parse_strategies("cot"), llm, tmp_path, [None], concurrency=2)
    with pytest.raises(AuthError):  # a bad key would fail every problem: it stops the run
        asyncio.run(run_bench(config))
    # p1 was in flight beside p0: it finished and was journaled; p2.. were never started
    assert [r["problem_id"] for r in read_journal(tmp_path / "results.jsonl")] == ["p1"]
    assert sorted(asked(llm)) == ["0", "1"]


def test_summary_compares_at_matched_budgets(tmp_path):
    task = make_task(4)
    llm = FakeLLM(answer_right)
    config = BenchConfig(task, parse_strategies("cot,sc:3"), llm, tmp_path, [60, 10_000], concurrency=4)
    rows = asyncio.run(run_bench(config))
    table = {(t["strategy"], t["budget"]): t for t in summarize(rows)}
    assert table[("cot", 10_000)]["accuracy"] == 1.0
    assert table[("sc:3", 10_000)]["mean_calls"] == 3.0
    assert table[("sc:3", 60)]["hit_budget"] == 1.0  # 60 tokens fit one sample, not three
    assert all(t["mean_tokens"] <= t["budget"] for t in table.values())
    assert json.loads(json.dumps(table[("cot", 60)]))  # JSON-ready


def test_summary_orders_budgets_ascending_whatever_the_journal_order():
    def row(spec, budget):
        return {"strategy": spec, "budget": budget, "problem_id": "p", "correct": False, "candidates": 1,
                "truncated": 0, "exhausted": False, "seconds": 1.0,
                "usage": {"total_tokens": 1, "calls": 1, "cost": 0.0, "cache_hits": 0}}

    rows = [row("b", 300), row("a", 1000), row("b", None), row("a", 300), row("b", 600)]
    assert [(t["strategy"], t["budget"]) for t in summarize(rows)] == [
        ("b", 300), ("b", 600), ("b", None), ("a", 300), ("a", 1000)]


def test_a_strategy_can_have_its_own_budgets(tmp_path):
    task = make_task(2)
    config = BenchConfig(task, parse_strategies("cot,sc:3"), FakeLLM(answer_right), tmp_path, [None],
                         budgets_for={"sc:3": [60, 10_000]})
    rows = asyncio.run(run_bench(config))
    runs = sorted({(r["strategy"], r["budget"]) for r in rows}, key=str)
    assert runs == [("cot", None), ("sc:3", 10_000), ("sc:3", 60)]
    assert len(rows) == 6


def test_metric_means_skip_rows_without_metrics():
    base = {"strategy": "cot", "budget": None, "correct": True, "candidates": 1, "exhausted": False,
            "truncated": 0, "seconds": 1.0,
            "usage": {"total_tokens": 10, "calls": 1, "cost": 0.0, "cache_hits": 0}}
    rows = [dict(base, problem_id="a"), dict(base, problem_id="b", metrics={"f1": 0.5}),
            dict(base, problem_id="c", metrics={"f1": 1.0})]
    [line] = summarize(rows)
    assert line["mean_f1"] == 0.75 and line["problems"] == 3


def test_summary_shows_the_generated_tokens_beside_all_tokens(tmp_path):
    base = {"strategy": "cot", "budget": None, "correct": True, "candidates": 1, "exhausted": False,
            "truncated": 0, "seconds": 1.0, "usage": {"total_tokens": 100, "prompt_tokens": 70,
                                                      "completion_tokens": 30, "calls": 1, "cost": 0.0, "cache_hits": 0}}
    rows = [dict(base, problem_id="a"),
            dict(base, problem_id="b", usage=dict(base["usage"], total_tokens=90, completion_tokens=20))]
    [line] = write_report(rows, tmp_path, title="t")
    assert (line["mean_tokens"], line["mean_generated"]) == (95, 25)
    assert "| mean tokens | of them generated |" in (tmp_path / "summary.md").read_text()
    assert "| 95 | 25 |" in (tmp_path / "summary.md").read_text()
    older = [dict(base, problem_id="c", usage={k: v for k, v in base["usage"].items() if k != "completion_tokens"})]
    [line] = write_report(older + rows, tmp_path, title="t")  # a journal row from before the count: unknown
    assert line["mean_generated"] is None and "| 97 | - |" in (tmp_path / "summary.md").read_text()


def test_progress_bar_shows_runs_done_of_total(capsys):
    with progress_bar("gsm8k") as progress:
        progress(3, 7)
    err = capsys.readouterr().err
    assert "gsm8k" in err and "3/7" in err


def test_journal_counts_candidates_cut_off_at_max_tokens(tmp_path):
    task = make_task(1)
    llm = FakeLLM(lambda req: "Adding one to the number gives the answer. The answer is 1.")
    config = BenchConfig(task, parse_strategies("cot(max_tokens=4),cot"), llm, tmp_path, [None], concurrency=1)
    rows = asyncio.run(run_bench(config))
    assert {r["strategy"]: r["truncated"] for r in rows} == {"cot(max_tokens=4)": 1, "cot": 0}


def rate_limited_on(number: str):
    from reasoners import RateLimitError

    def reply(req):
        if number_in(req.prompt) == number:
            return FakeResponse(error=RateLimitError("slow down", retry_after=0))
        return FakeResponse(answer_right(req))

    return reply


def test_a_problem_that_always_fails_is_an_error_row_and_the_run_goes_on(tmp_path):
    llm = FakeLLM(rate_limited_on("2"), retry=RetryPolicy(attempts=2, initial_wait=0, jitter=0))
    config = BenchConfig(make_task(4), parse_strategies("cot,sc:2"), llm, tmp_path, [None], concurrency=2)
    rows = asyncio.run(run_bench(config))
    errors = [r for r in rows if r.get("error")]
    assert sorted((r["strategy"], r["problem_id"]) for r in errors) == [("cot", "p2"), ("sc:2", "p2")]
    assert all(r["error"]["type"] == "RateLimitError" for r in errors)
    table = {t["strategy"]: t for t in summarize(rows)}
    # an error is never a wrong answer: accuracy is over the three answered problems
    assert table["cot"]["errors"] == 1 and table["cot"]["problems"] == 3 and table["cot"]["accuracy"] == 1.0

    # resume runs the errored rows again (the server recovered), and nothing else
    again = FakeLLM(answer_right)
    config = BenchConfig(make_task(4), parse_strategies("cot,sc:2"), again, tmp_path, [None], concurrency=2)
    rows = asyncio.run(run_bench(config))
    assert sorted(set(asked(again))) == ["2"]
    assert not any(r.get("error") for r in rows) and len(rows) == 8
    assert {t["strategy"]: t["errors"] for t in summarize(read_journal(tmp_path / "results.jsonl"))} == {
        "cot": 0, "sc:2": 0}


def test_keep_errors_leaves_error_rows_alone(tmp_path):
    llm = FakeLLM(rate_limited_on("1"), retry=RetryPolicy(attempts=1))
    asyncio.run(run_bench(BenchConfig(make_task(2), parse_strategies("cot"), llm, tmp_path, [None])))
    again = FakeLLM(answer_right)
    config = BenchConfig(make_task(2), parse_strategies("cot"), again, tmp_path, [None], keep_errors=True)
    rows = asyncio.run(run_bench(config))
    assert again.requests == [] and [r["problem_id"] for r in rows if r.get("error")] == ["p1"]


def test_a_second_run_on_the_same_folder_fails_with_one_line(tmp_path):
    from reasoners.bench import locked

    with locked(tmp_path):
        config = BenchConfig(make_task(1), parse_strategies("cot"), FakeLLM(answer_right), tmp_path, [None])
        with pytest.raises(ConfigError, match="another reasoners bench is writing to"):
            asyncio.run(run_bench(config))
    assert not (tmp_path / "results.jsonl").exists()


def test_a_torn_last_line_is_cut_off_on_resume(tmp_path, caplog):
    config = BenchConfig(make_task(3), parse_strategies("cot"), FakeLLM(answer_right), tmp_path, [None],
                         concurrency=1)
    asyncio.run(run_bench(config))
    journal = tmp_path / "results.jsonl"
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:2]) + "\n" + lines[2][:25])  # killed mid-write of the third row
    rows = asyncio.run(run_bench(config))
    assert "torn" in caplog.text
    text = journal.read_text()
    assert all(json.loads(line) for line in text.splitlines())  # every line is a whole row again
    assert sorted(r["problem_id"] for r in rows) == ["p0", "p1", "p2"]


def test_duplicated_rows_count_once(tmp_path):
    config = BenchConfig(make_task(2), parse_strategies("cot"), FakeLLM(answer_right), tmp_path, [None])
    asyncio.run(run_bench(config))
    journal = tmp_path / "results.jsonl"
    journal.write_text(journal.read_text() * 2)  # an old bug: two runs on one folder doubled every row
    assert [t["problems"] for t in summarize(read_journal(journal))] == [2]


def test_plot_has_a_distinct_colour_and_marker_per_strategy_and_a_frontier(tmp_path):
    from reasoners.bench import pareto_frontier, plot_accuracy_vs_tokens

    rows = []
    for i in range(24):  # more strategies than colours: the pairs must still differ
        for problem, correct in (("a", True), ("b", i % 2 == 0)):
            rows.append({"strategy": f"s{i}", "budget": None, "problem_id": problem, "correct": correct,
                         "candidates": 1, "truncated": 0, "exhausted": False, "seconds": 1.0,
                         "usage": {"total_tokens": 100 * (1 + i % 3), "calls": 1, "cost": 0.0, "cache_hits": 0}})
    styles = plot_accuracy_vs_tokens(summarize(rows), tmp_path / "plot.png", "toy, 2 problems, fake")
    png = (tmp_path / "plot.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert len(styles) == 24 and len(set(styles.values())) == 24
    assert pareto_frontier([(100, 0.5), (200, 0.4), (300, 0.9), (50, 0.1)]) == [(50, 0.1), (100, 0.5), (300, 0.9)]
