"""Multi-hop QA: the bundled two-fact set, HotpotQA/MuSiQue files, EM/F1, single-step retrieval (rag)."""

from __future__ import annotations

import asyncio
import json

import pytest

from reasoners import ConfigError, Problem, RetrieveThenAnswer
from reasoners.answers import token_f1
from reasoners.bench import BenchConfig, parse_strategies, run_bench, summarize
from reasoners.bench.tasks import MULTIHOP_FILE, load_task
from reasoners.testing import FakeLLM, FakeRetriever
from retrievers import Document


def test_bundled_set_needs_two_facts_each():
    task = load_task("multihop")
    assert len(task.problems) == 60
    data = json.loads(MULTIHOP_FILE.read_text())
    ids = {p["id"] for p in data["passages"]}
    assert len(ids) == len(data["passages"]) >= 300  # supporting facts plus distractors
    for problem in task.problems:
        assert len(problem.metadata["supporting"]) == 2 and set(problem.metadata["supporting"]) <= ids
    p = next(p for p in task.problems if p.question.startswith("Differentiation is the process by which cells"))
    assert p.gold == "neurones"
    top = [d.id for d in task.retriever(p).retrieve(p.question, 3)]
    assert p.metadata["supporting"][0] in top  # BM25 finds the fact that shares the question's words


def test_exact_match_and_f1_use_aliases():
    assert token_f1("the neurones cells", "neurones") == pytest.approx(2 / 3)
    assert token_f1("Paris", "Paris.") == 1.0 and token_f1(None, "x") == 0.0 and token_f1("a", "b") == 0.0
    task = load_task("multihop", limit=1)
    p = Problem("q?", kind="text", gold="New York City", metadata={"aliases": ["NYC"]})
    assert task.score(p, "nyc") and task.score(p, "new york city.") and not task.score(p, "New York")
    assert task.metrics["f1"](p, "New York") == pytest.approx(0.8)


def test_hotpotqa_and_musique_files(tmp_path):
    hotpot = [{"_id": "h1", "question": "Who directed the film that starred X?", "answer": "Jane Doe",
               "supporting_facts": [["Film A", 0], ["Jane Doe", 1]],
               "context": [["Film A", ["Film A starred X.", "It was directed by Jane Doe."]],
                           ["Other", ["Nothing relevant here."]]]}]
    path = tmp_path / "hotpot_dev_distractor.json"
    path.write_text(json.dumps(hotpot))
    task = load_task("multihop", path=path)
    [p] = task.problems
    assert p.id == "h1" and p.gold == "Jane Doe" and p.metadata["supporting"] == ["Film A", "Jane Doe"]
    assert task.retriever(p).retrieve("film starred X directed", 1)[0].id == "Film A"  # its own paragraphs
    musique = {"id": "m1", "question": "Q?", "answer": "B", "answer_aliases": ["bee"],
               "paragraphs": [{"idx": 0, "title": "T", "paragraph_text": "A is B.", "is_supporting": True},
                              {"idx": 1, "title": "U", "paragraph_text": "C is D.", "is_supporting": False}]}
    path = tmp_path / "musique_dev.jsonl"
    path.write_text(json.dumps(musique) + "\n")
    [m] = load_task("multihop", path=path).problems
    assert m.metadata["supporting"] == ["0"] and m.metadata["aliases"] == ["bee"]
    path.write_text(json.dumps({"id": "x", "question": "Q?", "answer": "A"}) + "\n")
    with pytest.raises(ConfigError, match="paragraphs"):
        load_task("multihop", path=path)


CORPUS = [Document("1", "Titanic was directed by James Cameron."), Document("2", "James Cameron married Suzy Amis."),
          Document("3", "Bananas are yellow.")]


def test_rag_puts_the_retrieved_passages_before_the_question():
    llm = FakeLLM(["From the passages: Suzy Amis. The answer is Suzy Amis."])
    retriever = FakeRetriever(list(CORPUS))
    result = RetrieveThenAnswer(k=2).run("Who did the director of Titanic marry?", llm=llm, retriever=retriever,
                                         kind="text")
    prompt = llm.requests[0].prompt
    assert "[1] Titanic was directed by James Cameron." in prompt and "Bananas" not in prompt
    assert prompt.rstrip().endswith("Let's think step by step.") and "Who did the director" in prompt
    assert result.answer == "Suzy Amis" and result.metadata["passages"] == ["1", "2"]
    assert retriever.queries == ["Who did the director of Titanic marry?"]


def test_rag_refuses_without_a_retriever():
    llm = FakeLLM(["The answer is x."])
    with pytest.raises(ConfigError, match="retriever"):
        RetrieveThenAnswer().run("Q?", llm=llm, kind="text")
    assert llm.requests == []


def test_bench_gives_each_run_the_task_retriever_and_reports_f1(tmp_path):
    task = load_task("multihop", limit=3)
    golds = {p.question: p.gold for p in task.problems}

    def reply(req):
        question = next(q for q in golds if q in req.prompt)
        seen_passages = "Passages:" in req.prompt
        return f"The answer is {golds[question] if seen_passages else 'no idea'}."

    config = BenchConfig(task, parse_strategies("cot,rag"), FakeLLM(reply), tmp_path, [None])
    rows = asyncio.run(run_bench(config))
    table = {t["strategy"]: t for t in summarize(rows)}
    assert table["rag"]["accuracy"] == 1.0 and table["rag"]["mean_f1"] == 1.0
    assert table["cot"]["accuracy"] == 0.0 and table["cot"]["mean_f1"] == 0.0
