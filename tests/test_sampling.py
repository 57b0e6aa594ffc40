"""Self-consistency, best-of-N, scorers, TRLM re-ranking and Auto-CoT on the scripted fake."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reasoners import (
    AutoCoT,
    BestOfN,
    Budget,
    Capabilities,
    CapabilityError,
    ChainOfThought,
    ConfigError,
    Demo,
    LLMJudge,
    MeanLogprob,
    Problem,
    SelfConsistency,
    TRLMRerank,
    TRLMScorer,
    Verifier,
)
from reasoners.embedding.embedders import Embedder
from reasoners.strategies.scorers import parse_judge_score
from reasoners.strategies.autocot import count_steps
from reasoners.spec import parse_spec
from reasoners.testing import FakeLLM, FakeResponse

NO_LOGPROBS = Capabilities(n=False, logprobs=False, prompt_logprobs=False, seed=True)


def answers_llm(*answers: str, **kw) -> FakeLLM:
    return FakeLLM([f"Some steps. The answer is {a}." for a in answers], **kw)


# -- self-consistency --------------------------------------------------------------------


def test_sc_majority_and_share():
    llm = answers_llm("5", "7", "5", "5", "9")
    result = SelfConsistency(n=5).run("q?", llm=llm)
    assert result.answer == "5"
    assert result.confidence == pytest.approx(3 / 5)
    assert result.metadata["tallies"] == {"5": 3.0, "7": 1.0, "9": 1.0}
    assert len(result.candidates) == 5 and result.usage.calls == 5
    assert {r.temperature for r in llm.requests} == {0.7}
    assert len({r.seed for r in llm.requests}) == 5


def test_sc_tie_goes_to_first_seen():
    assert SelfConsistency(n=4).run("q?", llm=answers_llm("8", "6", "6", "8")).answer == "8"


def test_weighted_vote_flips_the_majority():
    confident = FakeResponse("The answer is 12.", token_logprob=-0.05)
    unsure = FakeResponse("The answer is 10.", token_logprob=-3.0)
    llm = FakeLLM([unsure, unsure, confident])
    assert SelfConsistency(n=3).run("q?", llm=llm).answer == "10"
    weighted = SelfConsistency(n=3, vote="weighted").run("q?", llm=llm)
    assert weighted.answer == "12"


def test_weighted_vote_refused_without_logprobs():
    llm = answers_llm("1", capabilities=NO_LOGPROBS)
    with pytest.raises(CapabilityError, match="logprobs"):
        SelfConsistency(n=3, vote="weighted").run("q?", llm=llm)
    assert llm.requests == []


UNKNOWN_LOGPROBS = Capabilities(n=False, logprobs=None, prompt_logprobs=False, seed=True)


def test_weighted_vote_asks_for_logprobs_when_support_is_unknown():
    confident = FakeResponse("The answer is 12.", token_logprob=-0.05)
    unsure = FakeResponse("The answer is 10.", token_logprob=-3.0)
    llm = FakeLLM([unsure, unsure, confident], capabilities=UNKNOWN_LOGPROBS)
    result = SelfConsistency(n=3, vote="weighted").run("q?", llm=llm)
    assert all(r.logprobs for r in llm.requests)
    assert result.answer == "12"  # weighted, not silently a majority vote


def test_weighted_vote_refuses_when_asked_logprobs_never_come():
    llm = FakeLLM([FakeResponse("The answer is 3.", logprobs=[])], capabilities=UNKNOWN_LOGPROBS)
    with pytest.raises(CapabilityError, match="returned none"):
        SelfConsistency(n=8, vote="weighted").run("q?", llm=llm)
    assert len(llm.requests) == 1  # one probe sample, not all eight


def test_mean_logprob_asks_for_logprobs_when_support_is_unknown():
    llm = FakeLLM([FakeResponse("The answer is 1.", token_logprob=-2.0),
                   FakeResponse("The answer is 2.", token_logprob=-0.1)], capabilities=UNKNOWN_LOGPROBS)
    result = BestOfN(n=2, scorer=MeanLogprob()).run("q?", llm=llm)
    assert all(r.logprobs for r in llm.requests) and result.answer == "2"
    silent = FakeLLM([FakeResponse("The answer is 1.", logprobs=[])], capabilities=UNKNOWN_LOGPROBS)
    with pytest.raises(CapabilityError, match="mean_logprob"):
        BestOfN(n=4, scorer=MeanLogprob()).run("q?", llm=silent)
    assert len(silent.requests) == 1


def test_early_stop_stops_when_the_leader_cannot_be_caught():
    llm = answers_llm("5", "5", "5", "7", "7")
    result = SelfConsistency(n=5, early_stop=True, wave=1).run("q?", llm=llm)
    # after three 5s, two samples left cannot catch up: stop at sample 3
    assert result.answer == "5"
    assert len(llm.requests) == 3 and result.metadata["saved"] == 2


def test_early_stop_keeps_sampling_while_open():
    llm = answers_llm("5", "7", "5", "7", "5")
    result = SelfConsistency(n=5, early_stop=True, wave=1).run("q?", llm=llm)
    assert len(llm.requests) == 5 and result.metadata["saved"] == 0 and result.answer == "5"


def test_sc_is_anytime_under_a_budget():
    llm = answers_llm("4", "4", "4", "4", "4", "4", "4", "4")
    budget = Budget(calls=3)
    result = SelfConsistency(n=8).run("q?", llm=llm, budget=budget)
    assert result.exhausted and result.answer == "4"
    assert result.usage.calls == 3 == len(result.candidates)


def test_sc_nests_over_any_base():
    llm = answers_llm("3", "3", "2")
    demo = Demo("1+1?", "One and one.", "2")
    result = SelfConsistency(base=ChainOfThought(demos=[demo]), n=3).run("q?", llm=llm)
    assert result.answer == "3"
    assert all(len(r.messages) == 3 for r in llm.requests)


# -- best-of-N and scorers -----------------------------------------------------------------


def test_bon_with_verifier_picks_the_verified_candidate():
    llm = answers_llm("10", "12", "14")
    result = BestOfN(n=3, scorer=Verifier(lambda answer, text, problem: answer == "12")).run("q?", llm=llm)
    assert result.answer == "12"
    assert [c.score for c in result.candidates] == [1.0, 0.0, 0.0]


def test_scorer_failure_ranks_last_and_is_traced():
    def flaky(answer, text, problem):
        if answer == "10":
            raise ValueError("checker crashed")
        return float(answer)

    llm = answers_llm("10", "3", "5")
    result = BestOfN(n=3, scorer=Verifier(flaky)).run("q?", llm=llm)
    assert result.answer == "5"
    assert result.candidates[-1].answer == "10" and result.candidates[-1].score is None
    assert "checker crashed" in json.dumps(result.trace)


def test_ties_go_to_the_earlier_sample():
    llm = answers_llm("1", "2", "3")
    assert BestOfN(n=3, scorer=Verifier(lambda a, t, p: 1.0)).run("q?", llm=llm).answer == "1"


def test_vote_breaks_ties_among_the_top_scores():
    # a judge-like scorer that rates every answer but "9" equally: the tie goes to the majority of the tied
    llm = answers_llm("3", "5", "5", "9", "9", "9")
    flat = Verifier(lambda a, t, p: 0.0 if a == "9" else 1.0)
    assert BestOfN(n=6, scorer=flat, ties="first").run("q?", llm=llm).answer == "3"
    result = BestOfN(n=6, scorer=flat).run("q?", llm=answers_llm("3", "5", "5", "9", "9", "9"))  # default: vote
    assert result.answer == "5"  # "9" has more votes but a lower score: the score still comes first
    assert [c.answer for c in result.candidates] == ["5", "5", "3", "9", "9", "9"]
    with pytest.raises(ConfigError, match="ties"):
        BestOfN(ties="random")
    assert parse_spec("bon(n=8,scorer=judge,ties=vote)").ties == "vote"


def test_mean_logprob_scorer():
    llm = FakeLLM([
        FakeResponse("The answer is 1.", token_logprob=-2.0),
        FakeResponse("The answer is 2.", token_logprob=-0.1),
        FakeResponse("The answer is 3.", token_logprob=-1.0),
    ])
    result = BestOfN(n=3, scorer=MeanLogprob()).run("q?", llm=llm)
    assert result.answer == "2"
    assert result.candidates[0].score == pytest.approx(-0.1)


def test_mean_logprob_refused_without_logprobs():
    with pytest.raises(CapabilityError):
        BestOfN(n=2, scorer=MeanLogprob()).run("q?", llm=answers_llm("1", capabilities=NO_LOGPROBS))


@pytest.mark.parametrize(
    "reply,score",
    [("Score: 7", 7.0), ("I'd give it 8/10.", 8.0), ("**Rating:** 6.5", 6.5), ("9", 9.0),
     ("Score: 12 (oops) ... Score: 4", 4.0), ("no idea", None), ("Score: 15", None)],
)
def test_judge_parsing_is_robust(reply, score):
    assert parse_judge_score(reply) == score


def test_llm_judge_uses_a_separate_model():
    solver = answers_llm("4", "5")
    judge = FakeLLM(lambda req: "Score: 9" if "answer is 5" in req.prompt else "Score: 2")
    result = BestOfN(n=2, scorer=LLMJudge(llm=judge)).run("q?", llm=solver)
    assert result.answer == "5"
    assert len(judge.requests) == 2 and "Proposed solution" in judge.requests[0].prompt
    assert result.usage.calls == 4  # judge calls are charged to the same run


def test_judge_unparsable_reply_ranks_last():
    judge = FakeLLM(lambda req: "Score: 3" if "answer is 4" in req.prompt else "I cannot rate this.")
    result = BestOfN(n=2, scorer=LLMJudge(llm=judge)).run("q?", llm=answers_llm("5", "4"))
    assert result.answer == "4" and result.candidates[-1].score is None


def reverse_scores(mapping):
    """A fake scoring function: the reverse score depends on which answer the reverse prompt holds."""

    def score(prompt, continuation):
        for answer, value in mapping.items():
            if f"The answer is {answer}." in prompt:
                return value
        return -100.0

    return score


def test_trlm_picks_highest_reverse_score():
    llm = answers_llm("8", "9", "10", score=reverse_scores({"8": -20.0, "9": -5.0, "10": -12.0}))
    result = BestOfN(n=3, scorer=TRLMScorer()).run("How many apples?", llm=llm)
    assert result.answer == "9"
    prompt, continuation = llm.fake.scored[0]
    assert prompt.startswith("Below is a solution") and prompt.endswith("Problem:")
    assert continuation == " How many apples?"


def test_trlm_refuses_before_spending():
    llm = answers_llm("1", capabilities=NO_LOGPROBS)
    with pytest.raises(CapabilityError, match="prompt logprobs"):
        BestOfN(n=4, scorer=TRLMScorer()).run("q?", llm=llm)
    assert llm.requests == []


def test_trlm_rerank_stage_reorders_any_result():
    llm = answers_llm("8", "8", "9", score=reverse_scores({"8": -30.0, "9": -2.0}))
    pipeline = SelfConsistency(n=3) | TRLMRerank()
    result = pipeline.run("q?", llm=llm)
    assert result.answer == "9"  # the majority said 8; the reverse scores say 9
    assert [c.answer for c in result.candidates] == ["9", "8", "8"]
    assert result.usage.calls == 6  # three samples, three scores
    # the majority's tallies no longer describe the answer: they are kept apart, under the answer they chose
    assert "tallies" not in result.metadata and result.metadata["reranked_by"] == "trlm"
    assert result.metadata["before_rerank"]["answer"] == "8"
    assert result.metadata["before_rerank"]["tallies"] == {"8": 2.0, "9": 1.0}


def test_bad_parameters_are_named():
    with pytest.raises(ConfigError, match="n must"):
        SelfConsistency(n=0)
    with pytest.raises(ConfigError, match="vote"):
        SelfConsistency(vote="plurality")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="scorer"):
        BestOfN(scorer=lambda c: 1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="response"):
        TRLMScorer(template="no placeholder")


# -- Auto-CoT ---------------------------------------------------------------------------------


class FixedEmbedder(Embedder):
    def __init__(self, vectors):
        self.vectors = np.asarray(vectors, dtype=float)

    async def aembed(self, texts):
        return self.vectors[: len(texts)]


POOL = [
    "Cluster A question near the centre?",          # 0: A, nearest, but its rationale is too long
    "Cluster A question a bit further?",            # 1: A, passes
    "Cluster A question far away?",                 # 2: A
    " ".join(["long"] * 61) + " question in B?",    # 3: B, nearest, but over 60 words
    "Cluster B question with no answer?",           # 4: B, the model gives no answer
    "Cluster B question that works?",               # 5: B, passes
]
VECTORS = [[0.0, 0.0], [-0.5, 0.0], [0.6, 0.0], [10.0, 10.0], [9.5, 10.0], [10.6, 10.0]]


def autocot_llm() -> FakeLLM:
    def reply(req):
        q = req.prompt
        if "near the centre" in q:
            return "Step.\nStep.\nStep.\nStep.\nStep.\nStep.\nThe answer is 1."
        if "no answer" in q:
            return "I am not sure about this one."
        if "a bit further" in q:
            return "First add.\nThen subtract.\nThe answer is 2."
        if "that works" in q:
            return "Multiply.\nThe answer is 3."
        return "The answer is 99."

    return FakeLLM(reply)


def test_autocot_picks_the_nearest_passing_question_per_cluster(tmp_path):
    llm = autocot_llm()
    auto = AutoCoT(POOL, k=2, embedder=FixedEmbedder(VECTORS))
    ready, record = auto.prepared(llm=llm)
    result = ready.run("New question?", llm=llm)
    first_prompts = [r.prompt for r in llm.requests if "New question" not in r.prompt]
    # cluster A: 0 is tried and fails the steps filter, then 1 passes; 2 is never tried.
    # cluster B: 3 is skipped without a call (too long), 4 has no answer, 5 passes.
    assert any("near the centre" in p for p in first_prompts)
    assert not any("far away" in p for p in first_prompts)
    assert not any(p.startswith("long long") for p in first_prompts)
    assert auto.demos is None and record.usage.calls == len(llm.requests) - 1  # a run never changes a strategy
    demos = list(ready.demos)
    assert [d.question for d in demos] == [POOL[1], POOL[5]]
    assert [d.answer for d in demos] == ["2", "3"]
    assert demos[0].rationale == "First add.\nThen subtract."
    final = llm.requests[-1].messages
    assert [m["role"] for m in final] == ["user", "assistant", "user", "assistant", "user"]
    assert result.answer == "99" and result.metadata["demos"] == 2
    # prepared demos are built once, then reused; saved, and reusable
    calls = len(llm.requests)
    ready.run("Another?", llm=llm)
    assert len(llm.requests) == calls + 1
    path = tmp_path / "demos.json"
    AutoCoT.save(path, demos)
    assert list(AutoCoT.load(path).demos) == demos
    # unprepared, a run builds the demos it uses and says so
    unprepared = auto.run("New question?", llm=autocot_llm())
    assert [d["question"] for d in unprepared.metadata["built_demos"]] == [POOL[1], POOL[5]]


def test_autocot_as_base_of_self_consistency():
    auto = AutoCoT(demos=[Demo("1+1?", "One and one.", "2")])
    llm = answers_llm("6", "6", "7")
    result = SelfConsistency(base=auto, n=3).run("q?", llm=llm)
    assert result.answer == "6" and all(len(r.messages) == 3 for r in llm.requests)


def test_count_steps():
    assert count_steps("a.\nb.\nc.\nThe answer is 3.") == 3
    assert count_steps("First this. Then that. The answer is 2.") == 1  # lines, as the reference counts
    assert count_steps("To find the answer: we add 2 and 3.\nThat is 5.\nThe answer is 5.") == 2


def test_autocot_demo_keeps_the_reasoning_before_the_last_answer_sentence():
    text = "To find the answer: we add 2 and 3.\nThe answer is 5."
    llm = FakeLLM([text])
    auto = AutoCoT(["What is 2 plus 3?"], k=1, max_steps=1)
    [demo] = auto.prepared(llm=llm)[0].demos
    assert demo.rationale == "To find the answer: we add 2 and 3." and demo.answer == "5"
    # markdown: delimiter-only lines (display math, code fences, rules) are not steps
    markdown = "Multiply:\n\\[\n3 \\times 4 = 12\n\\]\n$$\n12 + 1 = 13\n$$\n```\nprint(13)\n```\n---\nThe answer is 13."
    assert count_steps(markdown) == 4


def test_autocot_skips_a_rationale_cut_off_by_max_tokens():
    def reply(req):
        if "near" in req.prompt:  # cut off after 6 words, with a number in it
            return "Add 2 and 3 to get 5, then times 7 gives 35. The answer is 35."
        return "Add.\nThe answer is 4."

    llm = FakeLLM(reply)
    auto = AutoCoT(["Question near?", "Question far?"], k=1, embedder=FixedEmbedder([[0.0, 0.0], [1.0, 0.0]]),
                   demo_max_tokens=6)
    assert [d.question for d in auto.prepared(llm=llm)[0].demos] == ["Question far?"]


def test_autocot_out_of_budget_before_any_demo_is_an_exhausted_result():
    auto = AutoCoT(POOL, k=2, embedder=FixedEmbedder(VECTORS))
    result = auto.run("New question?", llm=autocot_llm(), budget=Budget(tokens=20))
    assert result.exhausted and result.answer is None and "built_demos" not in result.metadata


def test_autocot_needs_a_pool():
    with pytest.raises(ConfigError, match="pool"):
        AutoCoT()
    with pytest.raises(ConfigError, match="demos"):
        AutoCoT.load("/no/such/file.json")


def test_default_embedder_clusters_similar_questions_together():
    import asyncio

    from reasoners.embedding.embedders import TfidfEmbedder
    from reasoners.strategies.autocot import cluster_order

    pool = [
        "How many apples does Tom have after buying apples?",
        "Tom buys apples; how many apples now?",
        "What is the speed of the train in km per hour?",
        "A train travels at what speed in km per hour?",
    ]
    emb = asyncio.run(TfidfEmbedder().aembed(pool))
    clusters = cluster_order(emb, 2, seed=0)
    assert sorted(sorted(c) for c in clusters) == [[0, 1], [2, 3]]


def test_problem_kind_flows_to_extraction():
    llm = FakeLLM(["Birds fly. The answer is (B)."] * 3)
    p = Problem("Which flies?", kind="choice", choices=["dog", "bird"])
    assert SelfConsistency(n=3).run(p, llm=llm).answer == "B"


def test_autocot_max_tries_bounds_the_calls_per_cluster():
    llm = autocot_llm()
    auto = AutoCoT(POOL, k=2, embedder=FixedEmbedder(VECTORS), max_tries=1)
    # A: only the nearest is tried (it fails the steps filter); B: the long question costs no try,
    # the next one has no answer, and the cluster gives up before the one that would pass.
    # No demos at all is an error rather than silent zero-shot chain of thought.
    with pytest.raises(ConfigError, match="no demos.*max_steps"):
        auto.run("New question?", llm=llm)
    assert auto.demos is None
    tried = [r.prompt for r in llm.requests if "New question" not in r.prompt]
    assert len(tried) == 2 and not any("a bit further" in p or "that works" in p for p in tried)
    with pytest.raises(ConfigError, match="max_tries"):
        AutoCoT(POOL, max_tries=0)
