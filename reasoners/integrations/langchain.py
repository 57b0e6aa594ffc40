"""LangChain interop, both ways.

- :class:`StrategyRunnable`: any strategy or pipeline as a LangChain ``Runnable``
  (``invoke``, ``ainvoke``, ``batch``/``abatch`` with ``max_concurrency``, and
  ``astream`` of progress events), taking a string, a dict or a prompt value.
- :func:`langchain_llm`: a LangChain chat model as the toolkit's :class:`LLM`,
  for users who already have one configured. What is lost: token logprobs and
  prompt scoring (so weighted votes, MeanLogprob and TRLM refuse), native ``n``
  and seeds (samples are separate calls), per-call temperature (the chat model's
  own setting applies), and exact prompt counts for budgets when the model does
  not report usage (then about 4 characters a token).

Needs ``langchain-core`` (a dependency of this package).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig

from ..core.budget import Budget
from ..core.errors import ConfigError
from ..core.problem import Problem, Result
from ..core.sync import run_sync
from ..core.trace import Span, Trace
from ..llm.client import LLM
from ..llm.inprocess import InProcessModel, RawCompletion
from ..llm.options import SamplingOptions
from ..llm.types import Capabilities, Score
from ..strategies.base import Strategy

__all__ = ["StrategyRunnable", "langchain_llm", "LangChainModel"]

Output = Literal["answer", "result", "dict"]


def _problem(value: Any) -> Problem:
    if isinstance(value, Problem):
        return value
    if isinstance(value, PromptValue):
        return Problem(value.to_string())
    if isinstance(value, str):
        return Problem(value)
    if isinstance(value, dict):
        if "question" not in value:
            raise ConfigError(f"input dict needs a 'question' key; got keys {sorted(value)}")
        return Problem(
            value["question"], kind=value.get("kind", "number"), choices=list(value.get("choices", []))
        )
    raise ConfigError(f"input must be a string, a dict with 'question', or a prompt value; got {type(value).__name__}")


class StrategyRunnable(Runnable[Any, Any]):
    """A strategy (or pipeline) as a LangChain Runnable.

    Each input gets its own budget of ``budget_tokens`` (if set). ``output``
    chooses what comes back: the answer string, the :class:`Result`, or its dict.

    >>> chain = prompt | StrategyRunnable(SelfConsistency(n=4), llm) | StrOutputParser()  # doctest: +SKIP
    """

    def __init__(
        self,
        strategy: Strategy,
        llm: LLM,
        *,
        budget_tokens: int | None = None,
        output: Output = "answer",
        retriever: Any = None,
        seed: int = 0,
    ) -> None:
        if output not in ("answer", "result", "dict"):
            raise ConfigError("output must be 'answer', 'result' or 'dict'")
        self.strategy = strategy
        self.llm = llm
        self.budget_tokens = budget_tokens
        self.output = output
        self.retriever = retriever
        self.seed = seed

    def _shape(self, result: Result) -> Any:
        if self.output == "result":
            return result
        if self.output == "dict":
            return result.to_dict()
        return result.answer if result.answer is not None else ""

    async def _arun(self, value: Any, trace: Trace | None = None) -> Result:
        return await self.strategy.arun(
            _problem(value),
            llm=self.llm,
            budget=Budget(tokens=self.budget_tokens),
            retriever=self.retriever,
            seed=self.seed,
            trace=trace,
        )

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._shape(run_sync(self._arun(input), async_name="ainvoke"))

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._shape(await self._arun(input))

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Progress events as the run goes (one per finished span: model calls, strategy
        steps), then ``{"event": "result", "output": ...}``."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def on_end(span: Span) -> None:
            queue.put_nowait(
                {"event": span.kind, "name": span.name, "usage": span.usage.to_dict(), "seconds": span.seconds}
            )

        task = asyncio.ensure_future(self._arun(input, Trace(self.strategy.name, listener=on_end)))
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield getter.result()
                continue
            getter.cancel()
            while not queue.empty():
                yield queue.get_nowait()
            break
        yield {"event": "result", "output": self._shape(task.result())}


class LangChainModel(InProcessModel):
    """A LangChain chat model behind the toolkit's client (see the module notes for what is lost)."""

    def __init__(self, chat_model: BaseChatModel) -> None:
        if not isinstance(chat_model, BaseChatModel):
            raise ConfigError(f"expected a LangChain BaseChatModel, got {type(chat_model).__name__}")
        self.chat_model = chat_model
        self.capabilities = Capabilities(n=False, logprobs=False, prompt_logprobs=False, seed=False)

    @staticmethod
    def _messages(messages: list[dict[str, Any]]) -> list[BaseMessage]:
        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
        return [kinds.get(m["role"], HumanMessage)(content=m["content"]) for m in messages]

    def count_tokens(self, messages: list[dict[str, Any]]) -> int:
        return sum(len(m["content"]) // 4 + 4 for m in messages)

    async def complete(self, messages: list[dict[str, Any]], options: SamplingOptions) -> RawCompletion:
        stop = list(options.stop) if options.stop is not None else None
        reply = await self.chat_model.ainvoke(self._messages(messages), stop=stop, max_tokens=options.max_tokens)
        text = reply.content if isinstance(reply.content, str) else str(reply.content)
        usage = getattr(reply, "usage_metadata", None) or {}
        meta = getattr(reply, "response_metadata", None) or {}
        return RawCompletion(
            text=text,
            finish_reason=str(meta.get("finish_reason") or "stop"),
            prompt_tokens=int(usage.get("input_tokens") or self.count_tokens(messages)),
            completion_tokens=int(usage.get("output_tokens") or max(1, len(text) // 4)),
        )

    async def score(self, prompt: str, continuation: str) -> Score:
        raise AssertionError("unreachable: capabilities say prompt_logprobs=False")


def langchain_llm(chat_model: BaseChatModel, **llm_kwargs: Any) -> LLM:
    """The toolkit's :class:`LLM` over a LangChain chat model (budget, cache, trace included)."""
    name = getattr(chat_model, "model_name", None) or getattr(chat_model, "model", None) or type(chat_model).__name__
    return LLM(f"langchain/{name}", transport=LangChainModel(chat_model), **llm_kwargs)
