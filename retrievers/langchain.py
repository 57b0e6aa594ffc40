"""Adapters both ways between our retrievers and LangChain's ``BaseRetriever``."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from retrievers.base import Document, Retriever

__all__ = ["AsLangChain", "FromLangChain"]


class AsLangChain(BaseRetriever):
    """Our retriever serving a LangChain chain: ``AsLangChain(retriever=BM25Retriever(...), k=4)``."""

    retriever: Any
    k: int = 4

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        return [
            LCDocument(page_content=d.text, metadata={"id": d.id, "title": d.title, "score": d.score, **d.metadata})
            for d in self.retriever.retrieve(query, self.k)
        ]


class FromLangChain:
    """Any LangChain retriever serving our strategies (``retrieve``/``aretrieve``).

    LangChain retrievers choose their own result count; ``k`` truncates it.
    """

    def __init__(self, retriever: BaseRetriever) -> None:
        self.retriever = retriever

    @staticmethod
    def _convert(docs: list[LCDocument], k: int) -> list[Document]:
        out = []
        for i, d in enumerate(docs[:k]):
            meta = dict(d.metadata or {})
            out.append(
                Document(
                    id=str(meta.pop("id", d.id or i)),
                    text=d.page_content,
                    title=str(meta.pop("title", "")),
                    score=float(meta.pop("score", 0.0) or 0.0),
                    metadata=meta,
                )
            )
        return out

    def retrieve(self, query: str, k: int = 5) -> list[Document]:
        return self._convert(self.retriever.invoke(query), k)

    async def aretrieve(self, query: str, k: int = 5) -> list[Document]:
        return self._convert(await self.retriever.ainvoke(query), k)


_check: type[Retriever] = FromLangChain  # structural check: FromLangChain is a Retriever
