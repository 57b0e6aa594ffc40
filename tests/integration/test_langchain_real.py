"""A LangChain LCEL chain (prompt | our runnable | output parser) against the embedded model."""

from __future__ import annotations

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate

from reasoners.integrations.langchain import StrategyRunnable
from reasoners.spec import parse_spec


def test_lcel_chain_runs_a_pipeline_on_the_local_model(local_llm):
    prompt = PromptTemplate.from_template("Tom has {a} apples and buys {b} more. How many apples does he have?")
    pipeline = parse_spec("sc(n=2,base=cot(max_tokens=96)) | trlm")
    chain = prompt | StrategyRunnable(pipeline, local_llm, budget_tokens=3000) | StrOutputParser()
    answer = chain.invoke({"a": 3, "b": 4})
    assert isinstance(answer, str) and answer.lstrip("-").replace(".", "").isdigit()
    results = (prompt | StrategyRunnable(pipeline, local_llm, output="result")).batch(
        [{"a": 1, "b": 1}, {"a": 2, "b": 5}], config={"max_concurrency": 2}
    )
    for r in results:
        assert r.usage.calls == 4  # two samples, two reverse scores
        assert r.candidates[0].score is not None
