"""ProbTree with the embedded model and BM25 on a small corpus."""

from __future__ import annotations

from reasoners import Budget, ProbTree
from retrievers import BM25Retriever

CORPUS = [
    {"id": "t", "title": "Titanic", "text": "Titanic is a 1997 film written and directed by James Cameron."},
    {"id": "c", "title": "James Cameron", "text": "James Cameron has been married to Suzy Amis since 2000."},
    {"id": "w", "title": "Kate Winslet", "text": "Kate Winslet played Rose in Titanic."},
]


def test_probtree_answers_with_retrieval(local_llm):
    budget = Budget(tokens=9000).meter()
    result = ProbTree(k=2, max_depth=1, max_children=2, max_tokens=64).run(
        "Who is the spouse of the director of Titanic?", llm=local_llm, retriever=BM25Retriever(CORPUS),
        budget=budget, kind="text",
    )
    assert budget.used.total_tokens <= 9000
    tree = result.metadata["tree"]
    root = tree[0]
    sources = {c["source"] for c in root["candidates"]}
    assert "closed_book" in sources and "open_book" in sources
    if len(tree) > 1:  # the model decomposed: the root also aggregated its children
        assert "child_aggregation" in sources
    for node in tree:  # each node kept its most confident candidate
        scored = [c for c in node["candidates"] if c["answer"] is not None]
        if scored:
            assert node["answer"] == max(scored, key=lambda c: c["score"])["answer"]


def test_rag_and_probtree_on_the_bundled_multihop_set(local_llm, tmp_path):
    import asyncio

    from reasoners.bench import BenchConfig, parse_strategies, run_bench, summarize
    from reasoners.bench.tasks import load_task

    task = load_task("multihop", limit=2)
    strategies = parse_strategies("rag(k=3),probtree(k=2,max_depth=1,max_children=2,max_tokens=64)")
    rows = asyncio.run(run_bench(BenchConfig(task, strategies, local_llm, tmp_path, [6000], concurrency=1)))
    assert len(rows) == 4
    for row in rows:
        assert row["usage"]["total_tokens"] <= 6000 and 0.0 <= row["metrics"]["f1"] <= 1.0
        if row["correct"]:
            assert row["metrics"]["f1"] == 1.0
    table = {t["strategy"]: t for t in summarize(rows)}
    assert table["rag(k=3)"]["mean_calls"] == 1.0  # single-step retrieval: one answer call
    assert table["probtree(k=2,max_depth=1,max_children=2,max_tokens=64)"]["mean_calls"] >= 3
