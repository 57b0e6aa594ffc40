"""BM25 on a hand-checked toy corpus, persistence, errors, and the LangChain adapters both ways."""

from __future__ import annotations

import asyncio
import json

import pytest

from retrievers import BM25Retriever, Document, Retriever, RetrieverError, tokenize

CORPUS = [
    {"id": "eiffel", "title": "Eiffel Tower", "text": "The Eiffel Tower is a wrought-iron tower in Paris, France."},
    {"id": "louvre", "title": "Louvre", "text": "The Louvre is the world's most-visited art museum, in Paris."},
    {"id": "berlin", "title": "Berlin", "text": "Berlin is the capital and largest city of Germany."},
    {"id": "paris", "title": "Paris", "text": "Paris is the capital and most populous city of France."},
    {"id": "rhine", "title": "Rhine", "text": "The Rhine flows through Switzerland, Germany and the Netherlands."},
]


def test_tokeniser_is_stated():
    assert tokenize("The Eiffel-Tower's 330 m!") == ["the", "eiffel", "tower", "s", "330", "m"]
    assert tokenize("What is the capital of France?", frozenset({"what", "is", "the", "of"})) == ["capital", "france"]


@pytest.mark.parametrize(
    "query,top",
    [
        ("capital of France", "paris"),  # "capital" and "france" both only in paris
        ("capital of Germany", "berlin"),
        ("art museum", "louvre"),
        ("wrought-iron tower", "eiffel"),
        ("river through the Netherlands", "rhine"),
    ],
)
def test_ranking(query, top):
    r = BM25Retriever(CORPUS, stopwords=True)
    docs = r.retrieve(query, k=3)
    assert docs[0].id == top
    assert [d.score for d in docs] == sorted((d.score for d in docs), reverse=True)
    assert docs[0].title and docs[0].score > 0


def test_built_from_texts_jsonl_and_saved(tmp_path):
    r = BM25Retriever([c["text"] for c in CORPUS])
    assert r.retrieve("art museum", 1)[0].id == "1"
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in CORPUS))
    from_file = BM25Retriever.from_jsonl(path, stopwords=True)
    saved = tmp_path / "index.json"
    from_file.save(saved)
    again = BM25Retriever.load(saved)
    for q in ("capital of France", "Germany"):
        assert [(d.id, d.score) for d in again.retrieve(q)] == [(d.id, d.score) for d in from_file.retrieve(q)]


def test_errors_and_empty_results():
    with pytest.raises(RetrieverError, match="at least one"):
        BM25Retriever([])
    with pytest.raises(RetrieverError, match="text"):
        BM25Retriever([{"id": 1}])
    r = BM25Retriever(CORPUS, stopwords=True)
    assert r.retrieve("   ") == [] and r.retrieve("the of is") == []  # nothing indexable
    with pytest.raises(RetrieverError, match="k must"):
        r.retrieve("paris", k=0)
    with pytest.raises(RetrieverError, match="not found"):
        BM25Retriever.from_jsonl("/no/such.jsonl")


def test_protocol_and_async():
    r = BM25Retriever(CORPUS)
    assert isinstance(r, Retriever)
    assert asyncio.run(r.aretrieve("Louvre", 1))[0].id == "louvre"


def test_langchain_round_trip():
    from langchain_core.documents import Document as LCDocument

    from retrievers.langchain import AsLangChain, FromLangChain

    ours = BM25Retriever(CORPUS, stopwords=True)
    lc = AsLangChain(retriever=ours, k=2)
    lc_docs = lc.invoke("capital of Germany")
    assert isinstance(lc_docs[0], LCDocument) and lc_docs[0].metadata["id"] == "berlin"
    back = FromLangChain(lc)
    assert isinstance(back, Retriever)
    docs = back.retrieve("capital of Germany", k=1)
    assert docs == [Document("berlin", CORPUS[2]["text"], "Berlin", lc_docs[0].metadata["score"], {})]
    assert asyncio.run(back.aretrieve("art museum", 1))[0].id == "louvre"
