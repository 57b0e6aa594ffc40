"""Pipelines: specs and their round trip, budgets and usage across nesting and stages, LangChain."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reasoners import Budget, ChainOfThought, SelfConsistency, TRLMRerank
from reasoners.strategies.base import Pipeline
from reasoners.strategies.scorers import SCORERS
from reasoners.spec import SpecError, parse_spec, to_spec
from reasoners.strategies.base import REGISTRY, STAGES
from reasoners.testing import FakeLLM, FakeResponse
from reasoners.core.trace import plain


def test_every_registered_name_round_trips(tmp_path):
    pool = tmp_path / "pool.txt"
    pool.write_text("What is 1 + 1?\nWhat is 2 + 2?\n")
    examples = {
        "cot": 'cot(trigger="Think first.",max_tokens=200)',
        "sc": "sc(base=cot(max_tokens=100),n=4,vote=weighted,early_stop=true,wave=2)",
        "bon": "bon(n=3,scorer=judge(max_tokens=64),temperature=0.9)",
        "autocot": f'autocot(pool="{pool}",k=2,max_steps=4)',
        "fobar": "fobar(forward=sc(n=4),chains=2,alpha=0.3)",
        "codechain": "codechain(n=4,rounds=1,clusters=3)",
        "probtree": "probtree(k=2,max_depth=1,confidence=vote,votes=2)",
        "search": "search(proposals=3,order=logprob,max_expansions=20,retries=0)",
        "linear": "linear(max_tokens=512,backtrack=false)",
        "rag": "rag(base=sc(n=3),k=2)",
        "deepconf": "deepconf(n=8,mode=online,eta=90,measure=tail,window=16,top_k=3,warmup=2,consensus=0.9)",
    }
    assert set(examples) == set(REGISTRY)
    for name, spec in examples.items():
        built = parse_spec(spec)
        assert type(built) is REGISTRY[name]
        assert to_spec(parse_spec(to_spec(built))) == to_spec(built)
        assert plain(parse_spec(to_spec(built)).config()) == plain(built.config())
    for stage in STAGES:
        assert to_spec(parse_spec(f"cot | {stage}")) == f"cot | {stage}"
    for scorer in SCORERS:
        assert to_spec(parse_spec(f"bon(scorer={scorer})")).startswith("bon")


def test_spec_defaults_are_left_out():
    assert to_spec(SelfConsistency()) == "sc"
    assert to_spec(SelfConsistency(n=4) | TRLMRerank()) == "sc(n=4) | trlm"


@pytest.mark.parametrize(
    "spec,message,position",
    [
        ("magic", "unknown strategy 'magic'", 0),
        ("sc(n=8", "expected ',' or ')'", 6),
        ("sc(m=3)", "sc has no parameter 'm'", 3),
        ("sc(n=8) | cot", "unknown stage 'cot'", 10),
        ("sc(n=0)", "n must be >= 1", 0),
        ("bon(scorer=cot)", "unknown scorer 'cot'", 11),
        ("sc(n=1,n=2)", "given twice", 7),
        ("cot $", "unexpected character", 4),
    ],
)
def test_bad_specs_point_at_the_problem(spec, message, position):
    with pytest.raises(SpecError) as e:
        parse_spec(spec)
    text = str(e.value)
    assert message in text and f"position {position}" in text
    assert text.splitlines()[-1] == "  " + " " * position + "^"


def _call_usage(node):
    own = node["usage"]["total_tokens"] if node["kind"] in ("llm", "score") else 0
    calls = 1 if node["kind"] in ("llm", "score") else 0
    for child in node.get("children", []):
        t, c = _call_usage(child)
        own, calls = own + t, calls + c
    return own, calls


SPECS = [
    "cot",
    "sc(n=3)",
    "sc(n=2,base=sc(n=2))",
    "sc(n=3) | trlm",
    "bon(n=3,scorer=trlm)",
    "bon(n=2,base=sc(n=2),scorer=mean_logprob) | trlm",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.sampled_from(SPECS), tokens=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
       words=st.integers(min_value=1, max_value=30))
def test_usage_rolls_up_and_budget_holds(spec, tokens, words):
    llm = FakeLLM(lambda req: FakeResponse(" ".join(["w"] * words) + " The answer is 3."), score=lambda p, c: -1.0)
    budget = Budget(tokens=tokens).meter()
    result = parse_spec(spec).run("What is 1 + 2?", llm=llm, budget=budget)
    traced_tokens, traced_calls = _call_usage(result.trace)
    assert result.usage.total_tokens == traced_tokens and result.usage.calls == traced_calls
    assert result.usage == budget.used
    if tokens is not None:
        assert budget.used.total_tokens <= tokens


def test_shares_split_the_budget_and_pass_on_what_is_left():
    llm = FakeLLM(["The answer is 3."], score=lambda p, c: -1.0)
    budget = Budget(tokens=1000).meter()
    pipe = Pipeline(SelfConsistency(n=2), [TRLMRerank()], shares=[1, 1])
    result = pipe.run("q?", llm=llm, budget=budget)
    sample_tokens = sum(n["usage"]["total_tokens"] for n in _nodes(result.trace, "llm"))
    assert sample_tokens <= 500  # the generator's share
    assert result.candidates[0].score is not None  # the stage ran within what was left
    with pytest.raises(Exception, match="one positive weight per step"):
        Pipeline(ChainOfThought(), [TRLMRerank()], shares=[1])


def _nodes(node, kind):
    out = [node] if node["kind"] == kind else []
    for c in node.get("children", []):
        out += _nodes(c, kind)
    return out


# -- LangChain ----------------------------------------------------------------------------------


def test_strategy_as_runnable_invoke_batch_stream():
    from reasoners.integrations.langchain import StrategyRunnable

    llm = FakeLLM(lambda req: f"The answer is {req.prompt.split()[2]}.")
    runnable = StrategyRunnable(SelfConsistency(n=2), llm, budget_tokens=500)
    assert runnable.invoke("Number is 5 ok") == "5"
    assert runnable.invoke({"question": "Number is 6 ok"}) == "6"
    assert runnable.batch([f"Number is {i} ok" for i in range(4)], config={"max_concurrency": 2}) == [
        "0", "1", "2", "3"
    ]
    assert asyncio.run(runnable.abatch(["Number is 7 ok"])) == ["7"]

    async def collect():
        return [e async for e in runnable.astream("Number is 8 ok")]

    events = asyncio.run(collect())
    assert [e["event"] for e in events].count("llm") == 2
    assert events[-1] == {"event": "result", "output": "8"}
    full = StrategyRunnable(SelfConsistency(n=2), llm, output="result").invoke("Number is 9 ok")
    assert full.answer == "9" and full.usage.calls == 2


def test_langchain_chat_model_as_llm():
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from reasoners import CapabilityError
    from reasoners.integrations.langchain import langchain_llm

    llm = langchain_llm(FakeListChatModel(responses=["6 * 7 = 42. The answer is 42."]))
    result = ChainOfThought().run("What is 6 times 7?", llm=llm, budget=Budget(tokens=1000))
    assert result.answer == "42" and result.usage.calls == 1
    assert llm.capabilities.logprobs is False
    with pytest.raises(CapabilityError):
        SelfConsistency(n=2, vote="weighted").run("q?", llm=llm)
    with pytest.raises(CapabilityError):
        llm.score("a", "b")
