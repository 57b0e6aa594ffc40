"""Retrievers for strategies that look things up (ProbTree): the interface, BM25, LangChain adapters.

A retriever has ``retrieve(query, k)`` and its async twin ``aretrieve``, both
returning :class:`Document` objects, best first. The LangChain adapters live in
``retrievers.langchain`` (imported on demand).
"""

from retrievers.base import Document, Retriever, RetrieverError
from retrievers.bm25 import STOPWORDS, BM25Retriever, tokenize

__all__ = ["Document", "Retriever", "RetrieverError", "BM25Retriever", "tokenize", "STOPWORDS"]
