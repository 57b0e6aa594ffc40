"""The fidelity pass on the embedded SmolLM2: a text question is answered as text, weighted
self-consistency weighs every sample by its real logprobs, FOBAR's paper preset asks for what
it reads, and ProbTree's confidence comes from real logprobs (never a missing one read as 0)."""

from __future__ import annotations

from reasoners import FOBAR, Budget, ChainOfThought, SelfConsistency
from reasoners.llm.types import Completion


def test_a_text_question_is_answered_as_text(local_llm):
    result = ChainOfThought(max_tokens=48).run("What is the capital of France?", llm=local_llm)
    assert result.metadata["kind"] == "text"
    assert result.answer is not None or "text answer" in result.metadata["no_answer"]  # or it says why not


def test_weighted_votes_use_every_sample_s_real_logprobs(local_llm):
    result = SelfConsistency(n=3, vote="weighted", base=ChainOfThought(max_tokens=48)).run(
        "What is 2 + 3?", llm=local_llm, budget=Budget(tokens=3000))
    assert result.metadata["unweighted"] == 0  # every answered sample had logprobs
    assert all(c.mean_logprob is not None for c in result.candidates if c.answer is not None)
    if result.answer is not None:
        assert 0 < result.metadata["tallies"][result.answer] <= 3


def test_fobar_paper_prompts_for_the_line_it_reads(local_llm):
    fobar = FOBAR.paper()
    [reply] = local_llm.generate(fobar.backward_messages("Tom has x apples and buys 4 more. How many?", "7"),
                                 max_tokens=64)
    assert isinstance(reply, Completion)
    got = fobar.read_x(reply.text)
    # what it read is what the chain wrote: after the marker when there is one, else its last number
    marker = "the value of x is" in reply.text.lower()
    assert got is None or marker or got in reply.text.replace(",", "")
