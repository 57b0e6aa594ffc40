"""Single-step retrieval then reasoning: fetch passages for the question once, then let a base
strategy (chain of thought by default) answer from them. The baseline that ProbTree's per-node
retrieval is measured against."""

from __future__ import annotations

from dataclasses import replace

from ..errors import ConfigError
from ..problem import Problem, Result
from ..trace import span
from .base import Context, Strategy, register
from .cot import ChainOfThought

__all__ = ["RetrieveThenAnswer", "retrieve_passages"]

CONTEXT = "Passages:\n{passages}\n\nUse the passages (and what you know) to answer.\n{question}"


async def retrieve_passages(ctx: Context, query: str, k: int, max_context_tokens: int) -> tuple[str, list[str]]:
    """The top ``k`` passages for ``query`` as numbered text, dropping the last until they fit
    ``max_context_tokens``; and their ids. Empty when there is no retriever or nothing fits."""
    if ctx.retriever is None:
        return "", []
    docs = await ctx.retriever.aretrieve(query, k)
    while docs:
        text = "\n\n".join(f"[{i + 1}] {d.title}: {d.text}" if d.title else f"[{i + 1}] {d.text}"
                           for i, d in enumerate(docs))
        if ctx.llm.count_tokens(text) <= max_context_tokens:
            return text, [d.id for d in docs]
        docs = docs[:-1]
    return "", []


@register("rag")
class RetrieveThenAnswer(Strategy):
    """Retrieve ``k`` passages for the question, then solve it with ``base`` reading them.

    Needs a retriever on the run (``run(..., retriever=BM25Retriever(corpus))``); refuses
    before spending anything without one.
    """

    def __init__(self, base: Strategy | None = None, *, k: int = 3, max_context_tokens: int = 1536) -> None:
        if k < 1 or max_context_tokens < 1:
            raise ConfigError("rag needs k >= 1 and max_context_tokens >= 1")
        self.base = base or ChainOfThought()
        self.k = k
        self.max_context_tokens = max_context_tokens

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        if ctx.retriever is None:
            raise ConfigError("rag needs a retriever: strategy.run(..., retriever=BM25Retriever(corpus))")
        with span("retrieve", self.name, k=self.k) as s:
            passages, ids = await retrieve_passages(ctx, problem.question, self.k, self.max_context_tokens)
            if s is not None:
                s.attrs.update(ids=ids)
        question = CONTEXT.format(passages=passages, question=problem.question) if passages else problem.question
        result = await ctx.solve(self.base, replace(problem, question=question))
        result.metadata = {**result.metadata, "passages": ids}
        result.strategy = self.name
        return result
