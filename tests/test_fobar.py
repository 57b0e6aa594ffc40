"""FOBAR: masking on real GSM8K questions, the combination rule, budget planning, and overturning a majority."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reasoners import FOBAR, Budget, ConfigError, Problem, SelfConsistency
from reasoners.answers.masking import find_numbers
from reasoners.strategies.fobar import combine, fit_chains, plan_backward
from reasoners.testing import FakeLLM

DATA = Path(__file__).parent / "data" / "gsm8k_test_first30.jsonl"

# Checked by hand against each question (ids are GSM8K test indices). Word numbers count
# ("three", "One glass"); times (1:00 PM), "a third", "half", "twice", "two-thirds" do not.
EXPECTED_MASKS = {
    0: ["16", "3", "4", "2"], 1: ["2"], 2: ["80000", "50000", "150"], 3: ["3", "3", "60"],
    4: ["3", "3", "15", "25", "20"], 5: ["1", "5", "60", "16"], 6: ["4", "20"], 7: ["200", "2", "40", "20"],
    8: ["3", "60", "4", "2", "30", "4", "80", "4"], 9: ["40", "10", "1.2", "45"], 10: ["60", "3", "30", "3"],
    11: ["3", "68", "2", "80", "6", "55"], 12: ["90", "7", "1.5", "3"], 13: ["2", "5"], 14: ["20", "20", "25"],
    15: ["2", "5000", "8000", "2.5", "1.2"], 16: ["2", "80", "150", "2"], 17: ["20", "30", "50", "35", "15"],
    18: ["3", "4"], 19: ["12", "1", "4", "2", "4"], 20: ["10", "15", "1", "24"], 21: ["6", "23", "31"],
    22: ["8", "3", "1", "2", "2", "3"], 23: ["2"], 24: ["19.5", "25"],
    25: ["1", "12", "5", "3", "4", "1.5", "50", "8.5"], 26: ["3", "3", "3", "1", "16.5", "1", "22.5", "1", "42"],
    27: ["1", "15", "4", "60"], 28: ["2", "60", "20", "15"], 29: ["2", "5", "1", "33"],
}  # fmt: skip


def test_masks_on_30_real_gsm8k_questions():
    items = [json.loads(line) for line in DATA.read_text().splitlines()]
    assert len(items) == 30
    for item in items:
        assert [m.value for m in find_numbers(item["question"])] == EXPECTED_MASKS[item["id"]], item["id"]


@pytest.mark.parametrize(
    "question,index,masked",
    [
        ("He buys a house for $80,000 and then puts in $50,000.", 0, "He buys a house for $x and then puts in $50,000."),
        ("This increased the value by 150%.", 0, "This increased the value by x%."),
        ("Wendi feeds three cups.", 0, "Wendi feeds x cups."),
        ("He drives at 30mph for 2 hours.", 0, "He drives at xmph for 2 hours."),
    ],
)
def test_mask_apply(question, index, masked):
    assert find_numbers(question)[index].apply(question) == masked


def test_dates_names_and_ordinals_are_skipped_unless_asked():
    q = "On March 3, 2021 at 3:30, COVID-19 patient A1 waited 5 hours for the 2nd time."
    assert [m.value for m in find_numbers(q)] == ["5"]
    assert "2021" in [m.text for m in find_numbers(q, include_dates=True)]


def test_combine_rule():
    forward = {"5": 2 / 3, "7": 1 / 3}
    assert combine(forward, {"5": 3, "7": 1}, alpha=1.0) == pytest.approx(forward)
    backward_only = combine(forward, {"5": 1, "7": 3}, alpha=0.0)
    assert backward_only["7"] == pytest.approx(0.75, abs=1e-6)
    # no backward evidence at all: eps spreads P_b evenly, forward decides
    none = combine(forward, {"5": 0, "7": 0})
    z = (2 / 3) ** 0.5 + (1 / 3) ** 0.5
    assert none == pytest.approx({"5": (2 / 3) ** 0.5 / z, "7": (1 / 3) ** 0.5 / z})
    # eps smoothing keeps an answer with zero backward hits alive, but barely
    tiny = combine(forward, {"5": 0, "7": 4}, eps=1e-8)
    assert 0 < tiny["5"] < 1e-3


def test_plan_fits_the_budget():
    masks = find_numbers("A has 1, B has 2, C has 3, D has 4 and E has 5 apples.")
    full = plan_backward(masks, 2, chains=4, max_masks=4, tokens_per_chain=100, tokens_left=None)
    assert len(full.masks) == 4 and full.chains == 4 and full.total_chains == 32
    tight = plan_backward(masks, 2, chains=4, max_masks=4, tokens_per_chain=100, tokens_left=1000)
    # 10 chains affordable: first the chains per pair drop to 1, keeping all 4 masks (8 chains)
    assert (tight.chains, len(tight.masks), tight.total_chains) == (1, 4, 8)
    # 1 chain affordable, 2 candidates: no mask fits, so no backward pass at all
    broke = plan_backward(masks, 2, chains=4, max_masks=4, tokens_per_chain=100, tokens_left=150)
    assert broke.total_chains == 0 and broke.masks == []


def backward_oracle(right: str):
    """A fake model: forward votes 5, 5, 7; backward, it recovers x only when told the answer is `right`."""

    def reply(req):
        p = req.prompt
        m = re.search(r"answer to the above question is (\S+?), what", p)
        if m is None:
            return "The answer is 5." if req.seed in (0, 1) else "The answer is 7."
        masked = p.split("\n")[0]
        true_x = "3" if "has x apples" in masked else "4"
        return f"So x = {true_x}. The answer is {true_x}." if m.group(1) == right else "The answer is 99."

    return reply


QUESTION = "Tom has 3 apples and buys 4 more. How many apples does he have?"


def test_backward_votes_overturn_a_wrong_majority():
    llm = FakeLLM(backward_oracle("7"))
    result = FOBAR(SelfConsistency(n=3), chains=2).run(QUESTION, llm=llm)
    assert result.metadata["forward"] == {"5": pytest.approx(2 / 3), "7": pytest.approx(1 / 3)}
    assert result.metadata["backward"] == {"5": 0, "7": 4}  # 2 masks x 2 chains
    assert result.answer == "7"
    backward_prompts = [r.prompt for r in llm.requests if "unknown variable x" in r.prompt]
    assert len(backward_prompts) == 2 * 2 * 2
    assert any("Tom has x apples and buys 4 more" in p for p in backward_prompts)
    assert any("buys x more" in p and "answer to the above question is 5" in p for p in backward_prompts)


def test_alpha_one_keeps_the_forward_majority():
    llm = FakeLLM(backward_oracle("7"))
    assert FOBAR(SelfConsistency(n=3), chains=2, alpha=1.0).run(QUESTION, llm=llm).answer == "5"


def test_one_candidate_means_no_backward_calls():
    llm = FakeLLM(["The answer is 7."])
    result = FOBAR(SelfConsistency(n=3)).run(QUESTION, llm=llm)
    assert result.answer == "7" and len(llm.requests) == 3


def test_budget_caps_the_plan_and_is_never_exceeded():
    llm = FakeLLM(backward_oracle("7"))
    budget = Budget(tokens=600).meter()
    result = FOBAR(SelfConsistency(n=3), chains=4, max_masks=4, backward_max_tokens=40).run(
        QUESTION, llm=llm, budget=budget
    )
    plan = result.metadata["plan"]
    assert plan["total_chains"] < 2 * 2 * 4  # shrunk to fit
    assert plan["estimated_tokens"] <= 600
    assert budget.used.total_tokens <= 600
    assert "fobar.backward" in json.dumps(result.trace)


def bird_check(req):
    """Forward: seeds 0 and 1 say (A), the rest (B). Backward: the inverse question names
    the option it was given; the judge says yes only to an inverse built on the sparrow."""
    if "Write the inverse question" in req.prompt:
        option = re.search(r"Proposed answer: (.*)", req.prompt).group(1)
        return f"Given that {option} is a bird, which of these is a bird? {option}."
    if "Backward check" in req.prompt:
        inverse = req.prompt.split("its solution):")[1]
        return "The answer is yes." if "sparrow is a bird" in inverse else "The answer is no."
    return "The answer is (A)." if req.seed in (0, 1) else "The answer is (B)."


def test_non_numeric_check_writes_an_inverse_question_then_judges_it():
    p = Problem("Which is a bird?", kind="choice", choices=["cat", "sparrow"])
    llm = FakeLLM(bird_check)
    result = FOBAR(SelfConsistency(n=3), chains=2, check_non_numeric=True).run(p, llm=llm)
    # The forward majority (A, cat) is overturned: only the sparrow's inverse question passes.
    assert result.answer == "B" and result.metadata["backward"] == {"A": 0, "B": 2}
    inverse = [r.prompt for r in llm.requests if "Write the inverse question" in r.prompt]
    judged = [r.prompt for r in llm.requests if "Backward check" in r.prompt]
    assert len(inverse) == len(judged) == 2 * 2  # per (candidate, chain): one inverse, one judgement
    assert all("(A) cat\n(B) sparrow" in q for q in inverse)  # the model sees the options
    assert any("Proposed answer: (A) cat" in q for q in inverse)
    assert result.metadata["plan"]["calls"] == 8 and result.metadata["plan"]["chains_per_candidate"] == 2
    assert "fobar.check" in json.dumps(result.trace)


def test_non_numeric_check_fits_the_budget():
    p = Problem("Which is a bird?", kind="choice", choices=["cat", "sparrow"])
    fobar = FOBAR(SelfConsistency(n=3), chains=4, check_non_numeric=True, backward_max_tokens=40)
    budget = Budget(tokens=700).meter()
    result = fobar.run(p, llm=FakeLLM(bird_check), budget=budget)
    plan = result.metadata["plan"]
    assert 1 <= plan["chains_per_candidate"] < 4
    assert plan["estimated_tokens"] <= 700 and budget.used.total_tokens <= 700
    # With no room for even one chain per candidate, forward decides and no check is sent.
    llm = FakeLLM(bird_check)
    result = fobar.run(p, llm=llm, budget=Budget(tokens=200))
    assert result.answer == "A" and result.metadata["plan"]["calls"] == 0
    assert not any("inverse" in r.prompt for r in llm.requests)


def test_fit_chains():
    assert fit_chains(3, 4, None) == 4
    assert fit_chains(3, 4, 12) == 4
    assert fit_chains(3, 4, 7) == 2
    assert fit_chains(3, 4, 2) == 0
    assert fit_chains(0, 4, 0) == 4


def test_bad_parameters():
    with pytest.raises(ConfigError, match="alpha"):
        FOBAR(alpha=1.5)
    with pytest.raises(ConfigError, match="chains"):
        FOBAR(chains=0)
