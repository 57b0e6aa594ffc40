"""Fidelity, second pass: no silent scores or fallbacks, and the API's sharp edges (issue 34).

Each test here failed on the code before the fix it names."""

from __future__ import annotations

import inspect
import json
import pkgutil
import subprocess
import sys
from collections.abc import Sequence

import numpy as np
import pytest

import reasoners
import retrievers
from reasoners import (
    FOBAR,
    Capabilities,
    CapabilityError,
    ChainOfThought,
    CodeChain,
    ProbTree,
    SelfConsistency,
    Strategy,
    TRLMRerank,
)
from reasoners.answers import infer_kind
from reasoners.embedding.embedders import Embedder
from reasoners.llm.types import Completion, TokenLogprob
from reasoners.core.problem import Candidate, Problem, Result
from reasoners.strategies.autocot import _answer_near_end
from reasoners.strategies.probtree import BARE, UNSCORED, answer_confidence
from reasoners.testing import FakeLLM, FakeResponse
from reasoners.core.trace import Trace

UNKNOWN_LOGPROBS = Capabilities(n=False, logprobs=None, prompt_logprobs=None, seed=True)


# 1. ProbTree -----------------------------------------------------------------------------------

def _completion(text: str, logprob: float | None) -> Completion:
    words = text.split(" ")
    lps = None if logprob is None else [TokenLogprob(w + " ", logprob) for w in words]
    return Completion(text=" ".join(words) + " ", finish_reason="stop", logprobs=lps, model="m")


def test_probtree_a_bare_answer_scores_lowest_and_a_reasoned_one_by_its_reasoning():
    bare, conf = answer_confidence(_completion("So the answer is: Paris.", -0.1))
    assert bare == "Paris" and UNSCORED < conf == BARE < -1e6  # lowest of the answers, above no answer
    reasoned, conf = answer_confidence(_completion("France's capital is Paris. So the answer is: Paris.", -0.5))
    assert reasoned == "Paris" and conf == pytest.approx(-0.5)


def test_probtree_a_missing_logprob_is_not_certainty():
    with pytest.raises(CapabilityError, match="vote"):
        answer_confidence(_completion("Because. So the answer is: Paris.", None))


def test_probtree_refuses_a_backend_that_returns_no_logprobs_when_its_support_is_unknown():
    replies = [FakeResponse("{}", logprobs=[]), FakeResponse("I know it. So the answer is: Paris.", logprobs=[])]
    llm = FakeLLM(replies, capabilities=UNKNOWN_LOGPROBS)
    with pytest.raises(CapabilityError, match="confidence='vote'"):
        ProbTree(max_depth=0).run("What is the capital of France?", llm=llm, kind="text")
    assert len(llm.requests) == 1  # the decomposition was the probe: nothing else was spent


# 2. Weighted self-consistency ------------------------------------------------------------------

def _sc_llm() -> FakeLLM:
    # seeds 0..4: three "7" with logprobs, two "9" that come back without any
    replies = [FakeResponse("so The answer is 7.", token_logprob=-1.0)] * 3 + \
              [FakeResponse("so The answer is 9.", logprobs=[])] * 2
    return FakeLLM(lambda req: replies[req.seed % 5] if req.seed is not None else replies[0])


def test_weighted_vote_leaves_out_samples_without_logprobs_and_counts_them():
    sc = SelfConsistency(n=5, vote="weighted")
    llm = _sc_llm()
    result = sc.run("What is 3 + 4?", llm=llm)
    seeds = sorted(r.seed % 5 for r in llm.requests)
    assert seeds == [0, 1, 2, 3, 4]
    assert result.answer == "7"
    assert result.metadata["unweighted"] == 2
    assert result.metadata["tallies"] == {"7": pytest.approx(3 * np.exp(-1.0))}


def test_weighted_vote_with_no_logprobs_at_all_raises():
    llm = FakeLLM([FakeResponse("The answer is 9.", logprobs=[])])
    with pytest.raises(CapabilityError, match="majority"):
        SelfConsistency(n=3, vote="weighted").run("What is 4 + 5?", llm=llm)


def test_unnormalized_weighting_prefers_the_likelier_whole_path():
    # "5": one short path (3 tokens at -1: sum -3, mean -1); "6": one long path (30 tokens at -0.5: sum -15)
    replies = [FakeResponse("The answer 5", token_logprob=-1.0),
               FakeResponse(" ".join(["w"] * 26) + " The answer 6", token_logprob=-0.5)]
    normalized = SelfConsistency(n=2, vote="weighted").run("5 or 6?", llm=FakeLLM(replies))
    unnormalized = SelfConsistency(n=2, vote="weighted_unnormalized").run("5 or 6?", llm=FakeLLM(replies))
    assert normalized.answer == "6" and unnormalized.answer == "5"
    assert unnormalized.metadata["vote"] == "weighted_unnormalized"
    assert SelfConsistency.paper().vote == "majority"


# 3. FOBAR --------------------------------------------------------------------------------------

def test_fobar_paper_asks_for_what_it_reads_and_falls_back_to_the_last_number():
    fobar = FOBAR.paper()
    prompt = fobar.backward_messages("Tom has x apples and buys 4 more. How many?", "7")[-1]["content"]
    assert "The value of x is N" in prompt and "The answer is N" not in prompt
    assert fobar.read_x("4 + x = 7, so x = 3. The value of x is 3.") == "3"
    assert fobar.read_x("4 + x = 7, so x = 3.") == "3"  # the reference's fallback: the last number
    assert fobar.forward.n == 10  # the reference's forward paths for chat models


def test_fobar_paper_backward_chains_that_obey_the_prompt_count_as_correct():
    def reply(req):
        if "unknown variable x" in req.prompt:
            return "7 - 4 = 3. The value of x is 3."
        return f"The answer is {7 if (req.seed or 0) % 2 == 0 else 8}."

    fobar = FOBAR.paper(forward=SelfConsistency(n=4), chains=1)
    result = fobar.run("Tom has 3 apples and buys 4 more. How many apples?", llm=FakeLLM(reply))
    # x = 3 recovered for the masked 3 whenever the candidate was 7 or 8: the reads are what was asked
    assert result.metadata["backward"]["7"] >= 1


# 4. CodeChain ----------------------------------------------------------------------------------

class CountingEmbedder(Embedder):
    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.append(list(texts))
        return np.array([[float(len(t)), float(t.count("a"))] for t in texts])


async def test_codechain_clusters_every_occurrence_and_embeds_the_plans_docstring():
    emb = CountingEmbedder()
    chain = CodeChain(embedder=emb, clusters=2)
    shared = "def helper(x):\n    return x + 1"
    codes = [shared, shared, shared, "def other(a):\n    return a * 2", "def third(b):\n    return b - 3"]
    pool = [(c, f"doc {i}\n{c}") for i, c in enumerate(codes)]
    reps = await chain._representatives(pool, 2)
    assert emb.seen[-1] == [t for _, t in pool]  # every occurrence: a shared helper pulls its centroid
    assert len(reps) == len(set(reps)) <= 2 and set(reps) <= set(codes)

    from reasoners.strategies.codechain import embedding_text, sub_modules

    text = ('Plan:\ndef helper(x):\n    """Add one to x."""\n\n```python\ndef helper(x):\n    return x + 1\n\n'
            'def solve(x):\n    return helper(x)\n```')
    code = "def helper(x):\n    return x + 1\n\ndef solve(x):\n    return helper(x)"
    [module] = sub_modules(text, code, {"solve"})
    assert module == "def helper(x):\n    return x + 1"  # the code shown to the model
    assert embedding_text(module, text, code) == "Add one to x.\n" + module  # the text clustered


# 5. Auto-CoT -----------------------------------------------------------------------------------

@pytest.mark.parametrize("rationale, answer, found", [
    ("She has 3 + 9 = 12 apples in all.", "2", False),
    ("She has 3 + 9 = 12 apples in all.", "12", True),
    ("It costs 2.5 dollars each.", "2", False),
    ("In total 1,200 people came.", "1200", True),
])
def test_autocot_answer_check_matches_whole_tokens(rationale, answer, found):
    assert _answer_near_end(rationale, answer) is found


# 6. TRLMRerank ---------------------------------------------------------------------------------

async def test_trlm_rerank_breaks_ties_by_the_vote_like_bon():
    cands = [Candidate("a", "1"), Candidate("b", "2"), Candidate("c", "2")]
    llm = FakeLLM(score=lambda prompt, cont: -1.0)  # every candidate scores the same
    result = await (ChainOfThought() | TRLMRerank()).stages[0].apply(
        Result("1", candidates=cands), Problem("q?"), _ctx(llm))
    assert result.answer == "2"
    first = await TRLMRerank(ties="first").apply(Result("1", candidates=cands), Problem("q?"), _ctx(llm))
    assert first.answer == "1"


def _ctx(llm):
    from reasoners import Budget, Context

    return Context(llm=llm, budget=Budget().meter().child(), trace=Trace("t"))


# 7. Importing any public module first ----------------------------------------------------------

def _public_modules() -> list[str]:
    out = []
    for pkg in (reasoners, retrievers):
        out.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if not any(part.startswith("_") for part in info.name.split(".")[1:]):
                out.append(info.name)
    return out


@pytest.mark.slow
def test_every_public_module_imports_first_in_a_fresh_interpreter():
    modules = _public_modules()
    assert "retrievers.base" in modules and "reasoners.strategies.base" in modules
    script = ("import importlib, subprocess, sys\n"
              "bad = []\n"
              "for m in sys.argv[1:]:\n"
              "    p = subprocess.run([sys.executable, '-c', f'import {m}'], capture_output=True, text=True)\n"
              "    if p.returncode: bad.append((m, p.stderr.strip().splitlines()[-1]))\n"
              "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", script, *modules], capture_output=True, text=True, timeout=600)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    first = subprocess.run([sys.executable, "-c", "from retrievers import BM25Retriever; print('ok')"],
                           capture_output=True, text=True, timeout=120)
    assert first.stdout.strip() == "ok", first.stderr


# 8. A question's answer kind -------------------------------------------------------------------

@pytest.mark.parametrize("question, kind", [
    ("What is the capital of France?", "text"),
    ("Who wrote Hamlet?", "text"),
    ("What is 17 + 25?", "number"),
    ("How many legs does a spider have?", "number"),
    ("Write a Python function that reverses a string.", "code"),
])
def test_infer_kind(question, kind):
    assert infer_kind(question) == kind


def test_a_text_question_gets_a_text_answer_and_a_missing_answer_says_why():
    llm = FakeLLM(["France's capital is Paris. The answer is Paris."])
    result = ChainOfThought().run("What is the capital of France?", llm=llm)
    assert result.answer == "Paris" and result.metadata["kind"] == "text"
    none = ChainOfThought().run("What is 2 + 2?", llm=FakeLLM(["I am not sure."]))
    assert none.answer is None and "no number answer" in none.metadata["no_answer"]


# 9. One signature for run and arun -------------------------------------------------------------

def test_run_takes_what_arun_takes():
    run = inspect.signature(Strategy.run).parameters
    arun = inspect.signature(Strategy.arun).parameters
    assert list(run) == list(arun)
    assert "SamplingArgs" in str(arun["sampling"].annotation)
    trace = Trace("mine")
    llm = FakeLLM(["The answer is 4."])
    result = ChainOfThought().run("What is 2 + 2?", llm=llm, trace=trace, sampling={"max_tokens": 7},
                                  conversation=[{"role": "system", "content": "Be brief."}])
    assert result.answer == "4" and llm.requests[0].max_tokens == 7
    assert llm.requests[0].messages[0] == {"role": "system", "content": "Be brief."}
    assert json.dumps(result.trace) and trace.to_dict()["children"]
    from reasoners import ConfigError

    with pytest.raises(ConfigError, match="unknown sampling option 'temprature'"):
        ChainOfThought().run("What is 2 + 2?", llm=llm, sampling={"temprature": 0.5})  # type: ignore[typeddict-unknown-key]
