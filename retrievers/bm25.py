"""BM25 retrieval on ``rank-bm25`` with a stated tokeniser.

BM25+ (``rank_bm25.BM25Plus``): Okapi BM25 with a lower bound on term frequency
normalisation and idf = log((N + 1) / df), which stays positive; plain Okapi idf goes
negative for words in more than half the documents, which breaks small corpora.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from retrievers.base import Document, RetrieverError

__all__ = ["BM25Retriever", "tokenize", "STOPWORDS"]

STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i in is it its of on or she that the their "
    "them they this to was were what when where which who whom why will with you your do does did how".split()
)
_WORD = re.compile(r"[a-z0-9]+")


def tokenize(text: str, stopwords: frozenset[str] = frozenset()) -> list[str]:
    """Lowercase, split on anything that is not a letter or digit, drop ``stopwords``."""
    return [t for t in _WORD.findall(text.lower()) if t not in stopwords]


def _as_document(item: Document | str | dict[str, Any], i: int) -> Document:
    if isinstance(item, Document):
        return item
    if isinstance(item, str):
        return Document(id=str(i), text=item)
    if isinstance(item, dict):
        if "text" not in item:
            raise RetrieverError(f"document {i} has no 'text' field (keys: {sorted(item)})")
        extra = {k: v for k, v in item.items() if k not in ("id", "text", "title")}
        return Document(id=str(item.get("id", i)), text=item["text"], title=str(item.get("title", "")),
                        metadata=extra)
    raise RetrieverError(f"document {i} must be a Document, a string or a dict; got {type(item).__name__}")


class BM25Retriever:
    """BM25+ over a fixed corpus. Scores come back on each Document (higher is better).

    Tokeniser: lowercase, split on non-alphanumerics, optional English stopwords
    (``stopwords=True``) or your own set. Titles are indexed with the text. An
    empty corpus raises :class:`RetrieverError`; a query with no indexable word
    returns no documents.

    >>> r = BM25Retriever(["Paris is the capital of France.", "Berlin is in Germany."])
    >>> r.retrieve("capital of France", k=1)[0].id
    '0'
    """

    def __init__(
        self,
        documents: Sequence[Document | str | dict[str, Any]],
        *,
        k1: float = 1.5,
        b: float = 0.75,
        stopwords: bool | Iterable[str] = False,
    ) -> None:
        from rank_bm25 import BM25Plus

        self.documents = [_as_document(d, i) for i, d in enumerate(documents)]
        if not self.documents:
            raise RetrieverError("BM25Retriever needs at least one document")
        self.stopwords = STOPWORDS if stopwords is True else frozenset(stopwords or ())
        self.k1, self.b = k1, b
        corpus = [tokenize(f"{d.title} {d.text}", self.stopwords) or ["\0"] for d in self.documents]
        self._bm25 = BM25Plus(corpus, k1=k1, b=b)

    @classmethod
    def from_jsonl(cls, path: str | Path, **kwargs: Any) -> BM25Retriever:
        """Documents from a JSONL file with ``text`` and optional ``id``, ``title`` fields per line."""
        p = Path(path)
        if not p.is_file():
            raise RetrieverError(f"corpus file not found: {p}")
        rows = []
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as e:
                    raise RetrieverError(f"{p}:{n}: not JSON: {e}") from e
        return cls(rows, **kwargs)

    def save(self, path: str | Path) -> None:
        """Write the corpus and settings as JSON (the index is rebuilt on load: it is cheap)."""
        data = {
            "k1": self.k1,
            "b": self.b,
            "stopwords": sorted(self.stopwords),
            "documents": [{"id": d.id, "text": d.text, "title": d.title, **d.metadata} for d in self.documents],
        }
        Path(path).write_text(json.dumps(data), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> BM25Retriever:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise RetrieverError(f"cannot load a BM25 index from {path}: {e}") from e
        return cls(data["documents"], k1=data["k1"], b=data["b"], stopwords=data["stopwords"])

    def retrieve(self, query: str, k: int = 5) -> list[Document]:
        if k < 1:
            raise RetrieverError(f"k must be >= 1; got {k}")
        terms = tokenize(query, self.stopwords)
        if not terms:
            return []
        scores = self._bm25.get_scores(terms)
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
        return [
            Document(self.documents[i].id, self.documents[i].text, self.documents[i].title, float(scores[i]),
                     dict(self.documents[i].metadata))
            for i in order
        ]

    async def aretrieve(self, query: str, k: int = 5) -> list[Document]:
        return self.retrieve(query, k)
