"""solve_batch: one total budget over a batch, more samples where the answers disagree (scripted fake)."""

from __future__ import annotations

import asyncio
import json

import pytest

from reasoners import Budget, ChainOfThought, ConfigError, DeepConf, Problem, SelfConsistency, solve_batch
from reasoners.strategies.batch import unsettled
from reasoners.testing import FakeLLM, FakeResponse

# q-easy: every sample says 4. q-split: samples alternate 1 and 2 (seed = branch). q-lean: 7 twice in three.
PROBLEMS = [Problem("What is q-easy?", id="easy"), Problem("What is q-split?", id="split"),
            Problem("What is q-lean?", id="lean")]


def script(req):
    if "q-easy" in req.prompt:
        return "The answer is 4."
    if "q-split" in req.prompt:
        return f"The answer is {1 + req.seed % 2}."
    return "The answer is 7." if req.seed % 3 else "The answer is 8."


def run(allocate="adaptive", tokens=20_000, **kw):
    llm = FakeLLM(script, max_tokens=8)
    budget = Budget(tokens=tokens).meter()
    results = asyncio.run(solve_batch(SelfConsistency(n=12), PROBLEMS, llm=llm, budget=budget, allocate=allocate,
                                      **kw))
    return results, budget, llm


@pytest.mark.parametrize("rule, settles_at", [("beta", 4), ("margin", 3)])
def test_adaptive_spends_on_disagreement_and_stops_early_on_unanimous_votes(rule, settles_at):
    results, budget, _ = run(rule=rule)
    drawn = {r.metadata["allocation"]["drawn"]: p.id for r, p in zip(results, PROBLEMS)}
    easy, split, lean = (r.metadata["allocation"] for r in results)
    assert easy["stopped"] == "settled" and easy["drawn"] == settles_at  # 4-0 under Beta, a lead of 3 by margin
    assert split["drawn"] == 12 and split["stopped"] == "cap"  # never settles: it gets every sample up to the cap
    assert easy["drawn"] < lean["drawn"] <= split["drawn"]
    assert [r.answer for r in results] == ["4", "1", "7"] and drawn
    [span] = [c for c in results[0].trace["children"] if c["name"] == "sc" and c["kind"] == "batch.allocation"]
    assert span["attrs"]["stopped"] == "settled" and span["attrs"]["waves"][0] == 2


def test_uniform_is_sc_at_the_cap_in_an_even_share_of_the_total():
    results, _, _ = run("uniform")
    assert [r.metadata["allocation"]["drawn"] for r in results] == [12, 12, 12]
    tight, budget, _ = run("uniform", tokens=700)
    assert budget.used.total_tokens <= 700 and all(r.usage.total_tokens <= 700 // 3 for r in tight)
    assert all(r.exhausted and r.metadata["allocation"]["stopped"] == "budget" for r in tight)


@pytest.mark.parametrize("tokens", [400, 650, 1000])
def test_the_total_is_never_exceeded_and_every_problem_gets_an_answer(tokens):
    results, budget, llm = run(tokens=tokens)
    assert budget.used.total_tokens <= tokens
    assert all(r.answer is not None for r in results)
    assert sum(r.usage.total_tokens for r in results) == budget.used.total_tokens
    if tokens == 400:  # the split question never settles: the budget stops it, and its result says so
        assert results[1].exhausted and results[1].metadata["allocation"]["stopped"] == "budget"
    roomy, _, _ = run(tokens=20_000)
    assert not any(r.exhausted for r in roomy)


def test_it_is_reproducible():
    first, _, a = run(tokens=900)
    second, _, b = run(tokens=900)
    assert [r.metadata["allocation"] for r in first] == [r.metadata["allocation"] for r in second]
    assert [(q.prompt, q.seed) for q in a.requests] == [(q.prompt, q.seed) for q in b.requests]


def test_too_small_a_total_is_refused_before_anything_is_spent():
    llm = FakeLLM(script, max_tokens=8)
    with pytest.raises(ConfigError, match=r"give at least \d+"):
        asyncio.run(solve_batch(SelfConsistency(n=8), PROBLEMS, llm=llm, budget=Budget(tokens=50)))
    assert llm.requests == []


def test_the_two_rules_rank_votes_differently():
    assert unsettled([1, 1]) == pytest.approx(0.5)
    assert unsettled([3]) > unsettled([6])  # more unanimous votes: more settled (Beta), same lead order
    assert unsettled([4, 3]) > unsettled([2, 1])  # same lead, more votes: the Beta rule is *less* sure of 4-3
    assert unsettled([4, 3], "margin") == unsettled([2, 1], "margin")  # the margin rule cannot tell them apart


def test_the_bench_journals_one_row_per_problem_under_one_total_and_resumes_without_calls(tmp_path):
    from reasoners import Cache
    from reasoners.bench import BenchConfig, parse_strategies, read_journal, run_bench, summarize
    from reasoners.bench.tasks import Task

    task = Task("toy", [Problem(p.question, gold=g, id=p.id) for p, g in zip(PROBLEMS, ["4", "1", "7"])],
                lambda p, a: a == p.gold)
    llm = FakeLLM(script, max_tokens=8, cache=Cache(tmp_path / "cache.sqlite"))
    config = BenchConfig(task, parse_strategies("sc:12"), llm, tmp_path, [900], allocate="adaptive")
    rows = asyncio.run(run_bench(config))
    assert [(r["strategy"], r["budget"], r["problem_id"]) for r in rows] == [
        ("sc:12", 900, "easy"), ("sc:12", 900, "split"), ("sc:12", 900, "lean")]
    assert sum(r["usage"]["total_tokens"] for r in rows) <= 900 and all("correct" in r for r in rows)
    assert rows[0]["allocation"]["drawn"] < rows[1]["allocation"]["drawn"]
    [line] = summarize(rows)
    assert line["problems"] == 3 and line["budget"] == 900
    # a second run: every row is there, nothing runs; with one row lost, the batch replays from the cache
    calls = len(llm.requests)
    journal = tmp_path / "results.jsonl"
    journal.write_text("".join(json.dumps(r) + "\n" for r in read_journal(journal)[:2]))
    again = FakeLLM(script, max_tokens=8, cache=Cache(tmp_path / "cache.sqlite"))
    rows2 = asyncio.run(run_bench(BenchConfig(task, parse_strategies("sc:12"), again, tmp_path, [900],
                                              allocate="adaptive")))
    assert again.requests == [] and calls > 0
    assert [r["problem_id"] for r in read_journal(journal)] == ["easy", "split", "lean"]
    assert rows2[2]["allocation"] == rows[2]["allocation"]


@pytest.mark.parametrize("argv, message", [
    (["--allocate", "adaptive"], "--allocate and --total-budget-tokens go together"),
    (["--allocate", "uniform", "--total-budget-tokens", "900", "--budgets", "10,20"], "replaces --budgets"),
    (["--allocate", "adaptive", "--total-budget-tokens", "900", "--strategies", "cot"], "'cot' is not"),
])
def test_bench_allocation_flags_fail_in_one_line(capsys, tmp_path, argv, message):
    from reasoners.cli import main

    code = main(["bench", "--task", "gsm8k", "--limit", "2", "--model", "local/smollm2", "--out", str(tmp_path),
                 *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def confident_script(req):
    """q-split again, now with confidence: even seeds say 7 surely, odd ones drift and say 9."""
    if "q-split" in req.prompt:
        if req.seed % 2 == 0:
            return FakeResponse("a b c so the answer is 7", token_logprob=-0.05)
        return FakeResponse("a b c d e f g h so the answer is 9", logprobs=[-0.05] * 3 + [-3.0] * 10)
    return FakeResponse(script(req), token_logprob=-0.2)


@pytest.mark.parametrize("allocate", ["adaptive", "uniform"])
def test_deepconf_online_warms_up_whole_then_cuts_and_votes_by_confidence(allocate):
    llm = FakeLLM(confident_script, max_tokens=16)
    strategy = DeepConf(n=8, mode="online", warmup=3, eta=90, window=2, measure="lowest")
    budget = Budget(tokens=50_000).meter()
    results = asyncio.run(solve_batch(strategy, PROBLEMS, llm=llm, budget=budget, allocate=allocate))
    split = [r for r in llm.requests if "q-split" in r.prompt]
    # the warm-up traces (branches 0-2) run whole; every later one carries the cut set from them
    assert all(r.stop_below is None for r in split if r.seed < 3)
    assert {r.stop_below for r in split if r.seed >= 3} and all(r.stop_below for r in split if r.seed >= 3)
    cut = [c for c in results[1].candidates if c.metadata["cut"]]
    assert cut and all(c.answer is None and c.metadata["tokens"] < 13 for c in cut)
    assert results[1].answer == "7"  # a plain majority of the warm-up alone would be 7 by 2 to 1; the 9s are cut
    assert set(results[1].metadata["tallies"]) == {"7"}
    assert budget.used.completion_tokens == sum(c.metadata["tokens"] for r in results for c in r.candidates)


def test_a_strategy_that_does_not_vote_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="voting strategy.*ChainOfThought"):
        asyncio.run(solve_batch(ChainOfThought(), PROBLEMS, llm=FakeLLM(script), budget=Budget(tokens=1000)))
