"""Sampling strategies end to end on real GSM8K items with the embedded model, within a budget."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
from pathlib import Path

import pytest

from reasoners import (
    LLM,
    AutoCoT,
    BestOfN,
    Budget,
    Cache,
    Candidate,
    ChainOfThought,
    ConfigError,
    Context,
    Problem,
    Result,
    SelfConsistency,
    Strategy,
    TRLMScorer,
    Verifier,
)
from reasoners.answers import vote

DATA = Path(__file__).resolve().parents[1] / "data" / "gsm8k_test_first30.jsonl"
ITEMS = [json.loads(line) for line in DATA.read_text().splitlines()]


def gsm8k(i: int) -> Problem:
    item = ITEMS[i]
    return Problem(item["question"], kind="number", gold=item["short_answer"], id=str(item["id"]))


def _calls(node, kind):
    found = [node] if node["kind"] == kind else []
    for child in node.get("children", []):
        found += _calls(child, kind)
    return found


def _exchanges(trace) -> list[tuple[str, str]]:
    """(last user message, first reply) of every model call in a result's trace."""
    return [(n["attrs"]["request"]["messages"][-1]["content"], n["attrs"]["response"][0]["text"])
            for n in _calls(trace, "llm")]


def test_self_consistency_on_gsm8k(local_llm):
    budget = Budget(tokens=4000).meter()
    result = SelfConsistency(base=ChainOfThought(max_tokens=160), n=4).run(gsm8k(1), llm=local_llm, budget=budget)
    assert budget.used.total_tokens <= 4000
    assert 1 <= len(result.candidates) <= 4
    texts = {c.text for c in result.candidates}
    assert len(texts) == len(result.candidates)  # distinct samples at T=0.7
    if result.answer is not None:  # the winner's share of the votes: samples without an answer do not vote
        voters = [c for c in result.candidates if c.answer is not None]
        votes = sum(1 for c in voters if c.answer == result.answer)
        assert result.confidence == votes / len(voters)
    assert len(_calls(result.trace, "llm")) == result.usage.calls


def test_best_of_n_with_trlm_on_gsm8k(local_llm):
    budget = Budget(tokens=5000).meter()
    problem = gsm8k(2)
    result = BestOfN(base=ChainOfThought(max_tokens=160), n=3, scorer=TRLMScorer()).run(
        problem, llm=local_llm, budget=budget
    )
    assert budget.used.total_tokens <= 5000
    scores = _calls(result.trace, "score")
    assert len(scores) == len(result.candidates) == 3
    for node in scores:  # score() was called with the reverse prompt, continuation = the question
        assert node["attrs"]["prompt"].startswith("Below is a solution")
        assert node["attrs"]["continuation"].strip() == problem.question.strip()
    ranked = [c.score for c in result.candidates]
    assert ranked == sorted(ranked, reverse=True) and all(s is not None and s < 0 for s in ranked)
    assert result.answer == result.candidates[0].answer


def test_best_of_n_vote_tie_break_on_gsm8k(local_llm):
    # a pass/fail verifier ties every candidate that has an answer: ties="vote" picks their majority
    has_answer = Verifier(lambda answer, text, problem: answer is not None)
    bon = BestOfN(base=ChainOfThought(max_tokens=160), n=4, scorer=has_answer, ties="vote")
    result = bon.run(gsm8k(3), llm=local_llm, budget=Budget(tokens=4000))
    in_sample_order = sorted(result.candidates, key=lambda c: int(c.source.rsplit("#", 1)[1]))
    answered = [c.answer for c in in_sample_order if c.answer is not None]
    assert result.answer == vote(answered).winner
    assert [c.score for c in result.candidates] == sorted((c.score for c in result.candidates), reverse=True)


def test_autocot_builds_demos_with_the_real_model(local_llm, tmp_path):
    pool = [item["question"] for item in ITEMS[5:13]]
    auto = AutoCoT(pool, k=2, demo_max_tokens=160, max_tokens=120)
    budget = Budget(tokens=12000).meter()
    ready, _ = auto.prepared(llm=local_llm, budget=budget)  # preparing and the run share the one budget
    result = ready.run(gsm8k(0), llm=local_llm, budget=budget)
    demos = list(ready.demos)
    assert budget.used.total_tokens <= 12000
    assert len(demos) <= 2 and all(d.question in pool for d in demos)
    for d in demos:
        assert len(d.question.split()) <= 60 and d.answer
    assert result.metadata["demos"] == len(demos)
    AutoCoT.save(tmp_path / "demos.json", demos)
    assert list(AutoCoT.load(tmp_path / "demos.json").demos) == demos


def test_fobar_on_gsm8k(local_llm):
    from reasoners import FOBAR

    budget = Budget(tokens=6000).meter()
    fobar = FOBAR(SelfConsistency(base=ChainOfThought(max_tokens=128), n=3), chains=1, max_masks=2,
                  backward_max_tokens=96)
    result = fobar.run(gsm8k(18), llm=local_llm, budget=budget)
    assert budget.used.total_tokens <= 6000
    forward = result.metadata["forward"]
    assert abs(sum(forward.values()) - 1) < 1e-9
    if len(forward) > 1:  # several candidates: the backward pass ran as planned
        plan = result.metadata["plan"]
        asked = [q for q, _ in _exchanges(result.trace) if "unknown variable x" in q]
        assert len(asked) == plan["total_chains"] > 0
        assert set(result.metadata["backward"]) == set(forward)
        assert result.answer in forward


class Proposals(Strategy):
    """A forward pass that proposes fixed candidates, so the backward check always has two to weigh."""

    name = "proposals"

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        return Result(self.answers[0], candidates=[Candidate(f"The answer is ({a}).", a) for a in self.answers])


def test_fobar_asks_one_backward_question_per_mask_and_candidate(local_llm):
    from reasoners import FOBAR

    problem = gsm8k(18)  # "Claire makes a 3 egg omelet ... in 4 weeks?", gold 7
    budget = Budget(tokens=4000).meter()
    fobar = FOBAR(Proposals(["7", "7", "12"]), chains=1, max_masks=2, backward_max_tokens=64)
    result = fobar.run(problem, llm=local_llm, budget=budget)
    assert budget.used.total_tokens <= 4000
    assert result.metadata["plan"]["masked"] == ["3", "4"] and result.metadata["plan"]["total_chains"] == 4
    asked = [q for q, _ in _exchanges(result.trace) if "unknown variable x" in q]
    assert len(asked) == 4
    for masked in ("Claire makes a x egg omelet", "eat in x weeks"):
        for answer in ("7", "12"):
            assert sum(masked in q and f"the above question is {answer}," in q for q in asked) == 1
    assert set(result.metadata["backward"]) == {"7", "12"}
    assert result.answer in ("7", "12")


def test_fobar_non_numeric_check_feeds_the_inverse_question_to_the_judge(local_llm):
    from reasoners import FOBAR

    problem = Problem("Which animal can fly?", kind="choice", choices=["a cow", "a sparrow"])
    budget = Budget(tokens=3000).meter()
    fobar = FOBAR(Proposals(["A", "A", "B"]), chains=1, check_non_numeric=True, backward_max_tokens=48)
    result = fobar.run(problem, llm=local_llm, budget=budget)
    assert budget.used.total_tokens <= 3000
    assert result.metadata["forward"] == pytest.approx({"A": 2 / 3, "B": 1 / 3})
    assert result.metadata["plan"]["calls"] == 4
    calls = _exchanges(result.trace)
    inverse = [(q, reply) for q, reply in calls if "Write the inverse question" in q]
    judged = [q for q, _ in calls if "Backward check" in q]
    assert sorted(t.split("Proposed answer: ")[1].split("\n")[0] for t, _ in inverse) == ["(A) a cow", "(B) a sparrow"]
    assert len(judged) == 2
    # Each judgement holds the inverse question the model wrote for the same candidate.
    for question, reply in inverse:
        option = question.split("Proposed answer: ")[1].split("\n")[0]
        assert any(f"Proposed answer: {option}" in j and reply.strip() in j for j in judged)
    assert set(result.metadata["backward"]) == {"A", "B"} and result.answer in ("A", "B")


def _cached_client(real_llm: LLM, path: Path) -> LLM:
    """The same model as ``real_llm``, with its own cache."""
    return LLM(real_llm.model, api_base=real_llm.api_base, api_key="none" if real_llm.api_base else None,
               cache=Cache(path))


def test_strategies_side_by_side_draw_each_sample_once(real_llm, tmp_path):
    llm = _cached_client(real_llm, tmp_path / "c.sqlite")
    base = ChainOfThought(max_tokens=40)

    async def both():
        return await asyncio.gather(SelfConsistency(base=base, n=2).arun(gsm8k(3), llm=llm),
                                    SelfConsistency(base=base, n=4).arun(gsm8k(3), llm=llm))

    small, big = asyncio.run(both())
    drawn = sum(r.usage.calls - r.usage.cache_hits for r in (small, big))
    assert drawn == 4 and small.usage.cache_hits + big.usage.cache_hits == 2
    assert [c.text for c in small.candidates] == [c.text for c in big.candidates[:2]]


def test_budgeted_run_replays_an_unbudgeted_sample_that_fits(local_llm, tmp_path):
    llm = _cached_client(local_llm, tmp_path / "c.sqlite")
    [full] = llm.generate("Say hello.", max_tokens=200)
    assert full.finish_reason == "stop" and full.usage.completion_tokens < 150
    # room for fewer than 200 completion tokens, but more than this sample used
    budget = Budget(tokens=full.usage.prompt_tokens + 60 + full.usage.completion_tokens).meter()
    [again] = llm.generate("Say hello.", max_tokens=200, budget=budget)
    assert again.cached and again.text == full.text


def test_replies_drawn_after_the_cache_file_is_swapped_are_kept(local_llm, tmp_path):
    """A ``git stash`` of a results folder swaps the cache file under a run (sqlite then refuses
    writes to the old file): the replies drawn after it still land in the file at the path."""
    path = tmp_path / "c.sqlite"
    llm = _cached_client(local_llm, path)
    llm.generate("Say hello.", max_tokens=12)
    shutil.copy(path, tmp_path / "copy.sqlite")
    os.replace(tmp_path / "copy.sqlite", path)
    [second] = llm.generate("Say goodbye.", max_tokens=12)
    assert llm.cache is not None and llm.cache.enabled
    replay = _cached_client(local_llm, path)
    assert [c.cached for c in replay.generate("Say hello.", max_tokens=12)] == [True]
    [again] = replay.generate("Say goodbye.", max_tokens=12)
    assert again.cached and again.text == second.text


def test_autocot_max_tries_bounds_the_build(local_llm):
    pool = [item["question"] for item in ITEMS[5:13]]
    auto = AutoCoT(pool, k=2, demo_max_tokens=64, max_tries=1, max_tokens=48)
    budget = Budget(tokens=6000).meter()
    # 64 tokens cut SmolLM2's rationales off, so the one try per cluster finds no demo,
    # and a build without demos is an error naming the filters (not silent zero-shot CoT)
    with pytest.raises(ConfigError, match="no demos"):
        auto.run(gsm8k(0), llm=local_llm, budget=budget)
    assert 1 <= budget.used.calls <= 2  # one try per cluster (a pool question over 60 words costs none)
    assert auto.demos is None


def test_weighted_vote_asks_a_real_server_for_logprobs_when_support_is_unknown(server_url):
    from reasoners import LLM

    # the server's logprob support marked unknown: the vote must still be weighted, not silently majority
    llm = LLM("openai/smollm2", api_base=server_url, api_key="none", max_tokens=48, capabilities={"logprobs": None})
    result = SelfConsistency(n=3, vote="weighted").run("What is 2 + 3?", llm=llm)
    assert result.metadata["vote"] == "weighted" and len(result.candidates) == 3
    assert all(c.mean_logprob is not None for c in result.candidates)  # every sample carried logprobs
    tallies = result.metadata["tallies"]
    answered = [c for c in result.candidates if c.answer is not None]
    assert sum(tallies.values()) == pytest.approx(sum(math.exp(c.mean_logprob) for c in answered))
    if tallies:
        from reasoners.answers import normalize

        assert normalize(result.answer) == max(tallies, key=tallies.get)
