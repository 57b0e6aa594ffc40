"""DeepConf: token, group and trace confidence; offline filtering; online cut and consensus stop."""

from __future__ import annotations

import math

import pytest

from reasoners import LLM, Budget, Capabilities, CapabilityError, DeepConf, SelfConsistency
from reasoners.llm.confidence import GroupWatch, StopBelow, group_confidences, token_confidence, trace_confidence
from reasoners.llm.types import TokenLogprob
from reasoners.spec import parse_spec, to_spec
from reasoners.testing import FakeLLM, FakeResponse
from reasoners.testing.stub_server import Reply, StubServer


def toks(values, top=None):
    return [TokenLogprob(f"t{i}", v, top) for i, v in enumerate(values)]


def test_token_group_and_trace_confidence():
    assert token_confidence(TokenLogprob("a", math.log(0.6))) == pytest.approx(0.6)  # chosen only: its probability
    assert token_confidence(TokenLogprob("a", -0.1, [-0.1, -3.0, -5.0])) == pytest.approx(8.1 / 3)
    peaked, flat = TokenLogprob("a", -0.01, [-0.01, -6.0, -7.0]), TokenLogprob("a", -1.0, [-1.0, -1.1, -1.2])
    assert token_confidence(peaked) > token_confidence(flat)
    t = [TokenLogprob(f"t{i}", 0.0, top) for i, top in enumerate([[-1, -3], [-1, -3], [-1, -1], [-1, -1]])]
    assert group_confidences(t, 2) == pytest.approx([2.0, 1.5, 1.0])
    assert trace_confidence(t, "lowest", 2) == pytest.approx(1.0)
    assert trace_confidence(t, "mean", 2) == pytest.approx(1.5)
    assert trace_confidence(t, "tail", 2) == pytest.approx(1.0)
    assert trace_confidence(t, "bottom10", 2) == pytest.approx(1.0)
    assert trace_confidence([], "mean") is None
    watch = GroupWatch(StopBelow(2, 0.5))
    assert [watch.add(x) for x in toks([-0.1, -0.1, -0.5, -2.0])] == [False, False, False, True]


def _confident_minority():
    """Five samples: three say 9 hesitantly (low-probability tokens), two say 7 surely."""
    sure = FakeResponse("so the answer is 7", token_logprob=-0.05)
    unsure = FakeResponse("so the answer is 9", token_logprob=-2.5)
    script = [unsure, sure, unsure, sure, unsure]
    return FakeLLM(lambda req: script[(req.seed or 0) % 5])


def test_offline_keeps_the_most_confident_and_weighs_their_votes():
    q = "What is 3 + 4?"
    assert SelfConsistency(n=5).run(q, llm=_confident_minority()).answer == "9"  # the plain majority
    result = DeepConf(n=5, eta=40, measure="mean", window=2).run(q, llm=_confident_minority())
    assert result.answer == "7" and result.metadata["kept"] == 2
    kept = sorted((c.metadata["confidence"] for c in result.candidates), reverse=True)[:2]
    assert result.metadata["tallies"] == {"7": pytest.approx(sum(kept))}
    assert all("token_logprobs" not in c.metadata for c in result.candidates)  # read, then dropped


def test_online_cuts_low_confidence_traces_and_stops_at_consensus():
    sure = FakeResponse("a b c so the answer is 7", token_logprob=-0.05)
    drifting = FakeResponse("a b c d e f g h so the answer is 9", logprobs=[-0.05] * 3 + [-3.0] * 10)
    script = [sure, sure, drifting, sure, drifting, drifting, sure, sure]
    llm = FakeLLM(lambda req: script[(req.seed or 0) % 8])
    budget = Budget(tokens=100_000).meter().child()
    result = DeepConf(n=8, mode="online", warmup=3, eta=90, window=2, measure="lowest", consensus=1.0,
                      ).run("What is 3 + 4?", llm=llm, budget=budget)
    cut = [c for c in result.candidates if c.metadata["cut"]]
    assert result.answer == "7" and cut and all(c.answer is None for c in cut)
    # a cut trace stopped at the first window below the threshold: 5 of its 13 tokens, charged as such
    assert all(c.metadata["tokens"] == 5 for c in cut)
    assert budget.used.completion_tokens == sum(
        c.metadata["tokens"] for c in result.candidates)
    assert result.metadata["threshold"] is not None and result.metadata["cut"] == len(cut)


def test_online_stops_sampling_once_the_vote_is_settled():
    llm = FakeLLM([FakeResponse("the answer is 7", token_logprob=-0.05)])
    result = DeepConf(n=64, mode="online", warmup=4, window=2).run("What is 3 + 4?", llm=llm)
    assert result.answer == "7" and result.metadata["saved"] == 60 and len(llm.requests) == 4


def test_without_logprobs_it_refuses_and_names_the_alternatives():
    caps = Capabilities(n=False, logprobs=False, prompt_logprobs=False, seed=True)
    with pytest.raises(CapabilityError, match="majority"):
        DeepConf().run("q?", llm=FakeLLM(["The answer is 1."], capabilities=caps))
    unknown = Capabilities(n=False, logprobs=None, prompt_logprobs=None, seed=True)
    with pytest.raises(CapabilityError):
        DeepConf(n=3).run("q?", llm=FakeLLM([FakeResponse("The answer is 1.", logprobs=[])], capabilities=unknown))


def test_spec_and_paper_preset():
    assert isinstance(parse_spec("deepconf(n=16,mode=online)"), DeepConf)
    paper = DeepConf.paper()
    assert (paper.n, paper.warmup, paper.eta, paper.window, paper.mode) == (512, 16, 10.0, 2048, "online")
    assert to_spec(DeepConf(n=8, mode="online")) == "deepconf(n=8,mode=online)"


@pytest.mark.parametrize("transport", ["http", "openai", "litellm"])
def test_a_stream_is_cut_and_charged_what_arrived(transport):
    text = "one two three four five six seven eight nine ten"
    with StubServer(default=Reply(text=text, logprobs=[-0.1] * 5 + [-3.0] * 5)) as srv:
        llm = LLM("openai/stub", api_base=srv.url, api_key="none", transport=transport)
        budget = Budget(tokens=1000).meter().child()
        [c] = llm.generate("q", stop_below=(2, 1.8), top_logprobs=3, budget=budget)
    assert c.finish_reason == "confidence" and c.text == "one two three four five six"
    assert c.usage.completion_tokens == 6 and budget.used.completion_tokens == 6
    assert len(c.logprobs) == 6 and len(c.logprobs[0].top) == 3


@pytest.mark.parametrize("concurrency", [1, 3])
def test_online_judges_each_trace_as_it_ends_not_in_waves(concurrency):
    """Warm-up says 7, 9, 9; every later trace says 7. At consensus 0.75 the vote settles once the
    fifth later trace is in (6 of 8): no trace starts after that, whatever the concurrency."""
    sure7, sure9 = FakeResponse("a b so the answer is 7", token_logprob=-0.05), \
        FakeResponse("a b so the answer is 9", token_logprob=-0.05)
    llm = FakeLLM(lambda req: sure9 if req.seed in (1, 2) else sure7, concurrency=concurrency, latency=0.01)
    result = DeepConf(n=16, mode="online", warmup=3, eta=90, window=2, measure="mean", consensus=0.75).run(
        "What is 3 + 4?", llm=llm)
    assert result.answer == "7"
    assert 8 <= result.metadata["traces"] <= 8 + concurrency - 1  # those in flight finish; none starts after
    assert result.metadata["saved"] == 16 - result.metadata["traces"] and len(llm.requests) < 16
