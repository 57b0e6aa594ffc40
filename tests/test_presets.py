"""The papers' presets (``name.paper``) and the baselines the papers compare against, on the scripted fake."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from reasoners import FOBAR, AutoCoT, CodeChain, ConfigError, ProbTree, Problem, SelfConsistency
from reasoners.core.packages import fewshot_file
from reasoners.domains.demos import audit_demo, load_demos
from reasoners.spec import parse_spec
from reasoners.strategies.best_of_n import TRLMRerank
from reasoners.strategies.scorers import TRLMScorer
from reasoners.testing import FakeLLM, FakeRetriever
from retrievers import Document


def test_every_preset_builds_from_python_and_from_a_spec():
    sc = parse_spec("sc.paper")
    assert isinstance(sc, SelfConsistency) and (sc.n, sc.temperature, len(sc.base.demos)) == (40, 0.7, 8)
    fobar = parse_spec("fobar.paper(chains=4)")
    assert isinstance(fobar, FOBAR) and fobar.chains == 4 and fobar.max_masks is None
    assert fobar.x_marker == "The value of x is" and len(fobar.demos) == 4 and fobar.forward.n == 10  # the reference's chat-model setting
    tree = parse_spec("probtree.paper")
    assert isinstance(tree, ProbTree) and (tree.k, tree.max_tokens, tree.prompts, tree.sibling_context) == (
        5, 256, "few_shot", True)
    chain = parse_spec("codechain.paper(n=3)")
    assert isinstance(chain, CodeChain) and (chain.n, chain.rounds, chain.clusters, chain.one_shot) == (3, 5, 5, True)
    auto = AutoCoT.paper(["What is 1 + 1?"])
    assert (auto.k, auto.max_steps, auto.filters, auto.selection) == (8, 5, "reference", "cluster")
    assert "Generate a question" in TRLMScorer.paper().template
    assert TRLMRerank.paper().scorer.template == TRLMScorer.paper().template
    assert parse_spec("sc(n=2) | trlm.paper").stages[0].scorer.template == TRLMScorer.paper().template
    assert SelfConsistency.paper(n=3).n == 3  # keyword overrides


def test_a_preset_that_does_not_exist_is_one_clear_error():
    from reasoners.core.errors import SpecError

    with pytest.raises(SpecError, match=r"cot has no preset 'paper' \(presets: .*fobar.paper"):
        parse_spec("cot.paper")
    with pytest.raises(SpecError, match="sc has no preset 'fast'"):
        parse_spec("sc.fast")


def test_the_shipped_few_shot_examples_pass_the_audit_and_the_code_example_runs():
    for name in ("gsm8k_cot.json", "fobar_backward.json"):
        for demo in load_demos(fewshot_file(name)):
            assert audit_demo(demo, kind="number").ok, demo
    example = json.loads(fewshot_file("codechain_oneshot.json").read_text())
    code = example["reply"].split("Implementation:\n\n```python\n")[1].split("```")[0]
    namespace: dict = {}
    exec(compile(code, "<example>", "exec"), namespace)
    assert namespace["longest_word_lengths"](["Hi there, you!", ""]) == [5, 0]


POOL = [f"What is {i} plus {i + 1}?" for i in range(6)]


def prepared(strategy, llm):
    return asyncio.run(strategy.aprepared(llm=llm))[0]


def solved_questions(llm: FakeLLM) -> list[str]:
    return [r.prompt.split("\n")[0] for r in llm.requests]


@pytest.mark.parametrize("seed", [1, 7])
def test_random_q_cot_draws_its_questions_with_the_seed(seed):
    llm = FakeLLM(["Let's add them.\nSo the answer is 3."])
    ready = prepared(AutoCoT(POOL, k=2, selection="random", seed=seed), llm)
    expected = [POOL[i] for i in random.Random(seed).sample(range(len(POOL)), 2)]
    assert sorted(solved_questions(llm)) == sorted(expected)
    assert sorted(d.question for d in ready.demos) == sorted(expected)


def test_retrieval_q_cot_takes_the_most_similar_questions_for_each_question():
    pool = ["How many apples does Tom have after buying 3 more apples?", "What colour is the sky at noon?",
            "How fast does a train go in an hour?", "How tall is the old oak tree?"]
    llm = FakeLLM(["Count them.\nSo the answer is 8."])
    auto = AutoCoT(pool, k=1, selection="retrieval")
    result = auto.run("How many apples does Tom have after buying 5 more apples?", llm=llm)
    *demo_turns, final = llm.requests
    assert solved_questions(llm)[0] == pool[0]  # the nearest pool question made the demo
    assert pool[0] in final.messages[0]["content"] and result.answer == "8"


def test_reference_filters_reject_rationales_the_reference_would_and_say_which():
    llm = FakeLLM(["We add 2 and 3 to get five\nThe answer is \\boxed{5}"])  # no full stop at the end
    with pytest.raises(ConfigError, match=r"rejected: 2 not ending with a full stop"):
        prepared(AutoCoT.paper(POOL[:2], k=2), llm)
    ok = FakeLLM(["We add 2 and 3 to get 5.\nThe answer is 5."])
    assert prepared(AutoCoT.paper(POOL[:2], k=2), ok).demos
    far = FakeLLM(["The sum is 5. " + "We checked the work carefully and it all looks right to us now. "
                   "\nThe answer is 5."])
    with pytest.raises(ConfigError, match="without the answer in the last sentence or last 10 words"):
        prepared(AutoCoT.paper(POOL[:1], k=1), far)


QUESTION = "Tom has 3 boxes with 4 toys in each box. How many toys does he have?"


def fobar_script(req):
    if "unknown variable x" in req.prompt:
        right = ("answer to the above question is 10" in req.prompt
                 or ("answer to the above question is 12" in req.prompt and req.seed == 0))
        return "The value of x is 3." if right else "The value of x is 9."
    return "The answer is 10." if req.seed == 3 else "The answer is 12."


@pytest.mark.parametrize("scoring, answer", [("fobar", "12"), ("backward", "10")])
def test_backward_only_scoring_ignores_the_forward_vote(scoring, answer):
    # forward: 12 three times, 10 once; backward: 12 recovers x once in 2 chains, 10 twice
    fobar = FOBAR(SelfConsistency(n=4), chains=2, max_masks=1, scoring=scoring)
    result = fobar.run(QUESTION, llm=FakeLLM(fobar_script))
    assert result.metadata["forward"] == {"12": 0.75, "10": 0.25}
    assert result.metadata["backward"] == {"12": 1, "10": 2}
    assert result.answer == answer


def test_the_paper_reads_x_after_its_marker_then_the_last_number():
    fobar = FOBAR.paper()
    assert fobar.read_x("5x = 60, so x = 12. The value of x is 12.") == "12"
    assert fobar.read_x("The value of x is 12.\nCheck: 12 + 1 = 13.") == "12"  # the marker wins over the last number
    assert fobar.read_x("So x = 12.") == "12"  # no marker: the reference falls back to the last number
    assert FOBAR().read_x("So x = 12.") == "12"


def test_probtree_paper_retrieves_with_the_answers_of_earlier_siblings():
    def reply(req):
        if "Decompose" in req.prompt:
            return json.dumps({"What rusts a steel bridge?": ["What is steel made of?", "What rusts <1>?"]})
        if "steel made of" in req.prompt.split("Question:")[-1]:
            return "Steel is mostly iron. So the answer is: iron."
        return "It reacts. So the answer is: oxygen and water."

    retriever = FakeRetriever([Document("d1", "Iron rusts in oxygen and water."), Document("d2", "Steel is iron.")])
    result = ProbTree.paper().run("What rusts a steel bridge?", llm=FakeLLM(reply), retriever=retriever)
    assert result.metadata["parse"] == "parsed"
    second = next(q for q in retriever.queries if q.endswith("What rusts iron?"))
    assert second.startswith("What is steel made of? iron")  # the earlier sibling's question and answer
    assert ProbTree().run("What rusts a steel bridge?", llm=FakeLLM(reply), retriever=(plain := FakeRetriever(
        retriever.documents))).answer and "What rusts iron?" in plain.queries  # without it: the question alone


def test_codechain_paper_shows_its_one_shot_example_first():
    chain = CodeChain.paper()
    messages = chain.messages(Problem("Write f(x) returning x + 1.", kind="code"), [])
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert "longest_word_lengths" in messages[0]["content"] and "def clean_word" in messages[1]["content"]
    assert messages[2]["content"].startswith("Write f(x)")
    assert len(CodeChain().messages(Problem("Write f.", kind="code"), [])) == 1


def test_self_verification_rewrites_each_candidate_and_masks_the_statement():
    def script(req):
        prompt = req.prompt
        if "Rewrite the question and its answer" in prompt:
            answer = prompt.split("Answer: ")[1].split("\n")[0]
            return f"Tom has 3 boxes with 4 toys in each box. He has {answer} toys."
        if "What is the value of x?" in prompt:
            return "The answer is 3." if "He has 10 toys" in prompt else "The answer is 9."
        return "The answer is 10." if req.seed == 3 else "The answer is 12."

    llm = FakeLLM(script)
    result = FOBAR(SelfConsistency(n=4), chains=2, max_masks=1, scoring="self_verification").run(QUESTION, llm=llm)
    assert result.metadata["forward"] == {"12": 0.75, "10": 0.25}
    assert result.metadata["backward"] == {"12": 0, "10": 2} and result.answer == "10"
    rewrites = [r for r in llm.requests if "Rewrite the question" in r.prompt]
    checks = [r for r in llm.requests if "What is the value of x?" in r.prompt]
    assert len(rewrites) == 2 and len(checks) == 4
    assert all("Tom has x boxes" in r.prompt and "If we know the answer" not in r.prompt for r in checks)
