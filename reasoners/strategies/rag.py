"""Single-step retrieval then reasoning: fetch passages for the question once, then let a base
strategy (chain of thought by default) answer from them. The baseline that ProbTree's per-node
retrieval is measured against."""

from __future__ import annotations

from dataclasses import replace

from ..core.errors import ConfigError
from ..core.problem import Problem, Result
from ..core.trace import span
from .base import Context, Strategy, register
from .cot import ChainOfThought
from .params import param, settings

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
@settings
class RetrieveThenAnswer(Strategy):
    """Retrieve ``k`` passages for the question, then solve it with ``base`` reading them.

    Needs a retriever on the run (``run(..., retriever=BM25Retriever(corpus))``); refuses
    before spending anything without one.
    """

    base: Strategy = param(factory=ChainOfThought, kw_only=False)
    k: int = param(default=3, ge=1)
    max_context_tokens: int = param(default=1536, ge=1)

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        if ctx.retriever is None:
            raise ConfigError("rag needs a retriever: strategy.run(..., retriever=BM25Retriever(corpus))")
        with span("retrieve", self.name, k=self.k) as s:
            passages, ids = await retrieve_passages(ctx, problem.question, self.k, self.max_context_tokens)
            if s is not None:
                s.attrs.update(ids=ids)
        question = CONTEXT.format(passages=passages, question=problem.question) if passages else problem.question
        result = await ctx.delegate(self.base, replace(problem, question=question))
        result.metadata = {**result.metadata, "passages": ids}
        result.strategy = self.name
        return result
