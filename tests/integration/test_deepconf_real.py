"""DeepConf on the embedded SmolLM2: a trace cut mid-generation by its confidence, charged exactly
the tokens it generated; offline and online DeepConf end to end."""

from __future__ import annotations

from reasoners import Budget, DeepConf
from reasoners.llm.confidence import group_confidences

STORY = "Write a long story about a dragon who learns to count."


def test_a_trace_is_cut_mid_generation_and_charged_exactly(local_llm):
    [whole] = local_llm.generate(STORY, max_tokens=80, temperature=0.9, seed=3, logprobs=True, top_logprobs=5)
    groups = group_confidences(whole.logprobs, 8)
    assert len(whole.logprobs) == 80 and whole.logprobs[0].top and len(whole.logprobs[0].top) == 5
    threshold = sorted(groups)[len(groups) // 4]  # a quarter of its windows fall below this
    budget = Budget(tokens=10_000).meter().child()
    [cut] = local_llm.generate(STORY, max_tokens=80, temperature=0.9, seed=3, top_logprobs=5,
                               stop_below=(8, threshold), budget=budget)
    assert cut.finish_reason == "confidence"
    assert 8 <= cut.usage.completion_tokens < 80 and whole.text.startswith(cut.text.strip()[:20])
    assert budget.used.completion_tokens == cut.usage.completion_tokens  # charged what it generated
    assert budget.used.prompt_tokens == whole.usage.prompt_tokens


def test_deepconf_offline_and_online_answer(local_llm):
    offline = DeepConf(n=4, eta=50, window=8).run("What is 7 + 5?", llm=local_llm, budget=Budget(tokens=6000))
    assert offline.metadata["kept"] == 2 and offline.answer is not None
    assert all(c.metadata["confidence"] is not None for c in offline.candidates)
    online = DeepConf(n=6, mode="online", warmup=3, eta=90, window=8).run(
        "What is 7 + 5?", llm=local_llm, budget=Budget(tokens=8000))
    assert online.metadata["threshold"] is not None and online.metadata["traces"] >= 3
    assert online.usage.completion_tokens == sum(c.metadata["tokens"] for c in online.candidates)


def test_deepconf_over_a_batch_under_one_total(local_llm):
    """solve_batch drives DeepConf on the embedded model: each problem's warm-up traces whole,
    later ones with that problem's cut, the total never exceeded, every problem answered."""
    import asyncio

    from reasoners import solve_batch

    problems = ["What is 7 + 5?", "What is 3 times 4?"]
    budget = Budget(tokens=12_000).meter()
    strategy = DeepConf(n=4, mode="online", warmup=2, eta=90, window=8, consensus=1.0)
    results = asyncio.run(solve_batch(strategy, problems, llm=local_llm, budget=budget, first_wave=1))
    assert budget.used.total_tokens <= 12_000
    for r in results:
        assert r.metadata["allocation"]["waves"][0] == 2  # the warm-up, whatever first_wave said
        assert all(c.metadata["confidence"] is not None for c in r.candidates if not c.metadata["cut"])
        assert r.usage.completion_tokens == sum(c.metadata["tokens"] for c in r.candidates)
    assert any(r.answer is not None for r in results)
