"""Fakes for testing pipelines without a model: a scripted :class:`FakeLLM` and a :class:`FakeRetriever`.

``FakeLLM`` is a real :class:`reasoners.LLM` whose transport calls a scripted
in-process model, so budget, cache, retries, trace and usage behave exactly as
with a real model.

>>> llm = FakeLLM(["The answer is 4.", "The answer is 5."])
>>> [c.text for c in llm.generate("2+2?", n=2, temperature=0.7)]
['The answer is 4.', 'The answer is 5.']
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from retrievers import Document

from ..core.usage import Usage
from ..llm.client import LLM
from ..llm.confidence import GroupWatch, StopBelow
from ..llm.inprocess import InProcessModel, RawCompletion
from ..llm.options import SamplingOptions
from ..llm.types import Capabilities, Score, TokenLogprob

__all__ = [
    "FakeLLM",
    "FakeModel",
    "FakeRequest",
    "FakeResponse",
    "FakeRetriever",
]


@dataclass
class FakeRequest:
    """What the fake saw: the chat messages and sampling options of one sample."""

    messages: list[dict[str, Any]]
    max_tokens: int
    temperature: float
    seed: int | None
    logprobs: bool
    stop: list[str] | None = None
    stop_below: tuple[int, float] | None = None  # DeepConf's online cut, when asked

    @property
    def prompt(self) -> str:
        """The last user message."""
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "user"), "")


@dataclass
class FakeResponse:
    """A scripted answer; ``logprobs`` (one per whitespace token) default to ``token_logprob`` each.

    ``error`` makes the call raise that exception instead (e.g. a ``RateLimitError``);
    ``delay`` adds seconds to the model's ``latency`` for this reply alone.
    """

    text: str = ""
    logprobs: list[float] | None = None
    token_logprob: float = -0.5
    error: BaseException | None = None
    delay: float = 0.0


Script = Sequence[str | FakeResponse] | Callable[[FakeRequest], str | FakeResponse]


def _words(text: str) -> list[str]:
    return text.split()


class FakeModel(InProcessModel):
    """A scripted in-process model. Tokens are whitespace-separated words.

    ``responses`` is a function of the :class:`FakeRequest`, or a list: a request
    with seed ``s`` gets ``responses[s % len]`` (so sample ``i`` of an ``n``-sample
    call gets response ``i``), a request without a seed the next one in order. ``score`` maps (prompt, continuation) to the total
    logprob of the continuation (spread evenly over its tokens).
    """

    def __init__(
        self,
        responses: Script,
        *,
        score: Callable[[str, str], float] | None = None,
        capabilities: Capabilities | None = None,
        latency: float = 0.0,
    ) -> None:
        self._script = responses
        self._cycle = itertools.cycle(list(responses)) if not callable(responses) else None
        if self._cycle is not None and not list(responses):  # type: ignore[arg-type]
            raise ValueError("FakeModel needs at least one response")
        self._score_fn = score
        self.capabilities = capabilities or Capabilities(n=False, logprobs=True, prompt_logprobs=True, seed=True)
        self.latency = latency
        self.requests: list[FakeRequest] = []
        self.scored: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (to run in another process, e.g. a Ray worker): the script goes, what it saw stays."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_cycle")}
        state.update(requests=[], scored=[], in_flight=0, max_in_flight=0)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._cycle = itertools.cycle(list(self._script)) if not callable(self._script) else None

    def count_tokens(self, messages: list[dict[str, Any]]) -> int:
        return sum(len(_words(m["content"])) + 1 for m in messages)

    async def complete(self, messages: list[dict[str, Any]], options: SamplingOptions) -> RawCompletion:
        max_tokens, seed = options.max_tokens, options.seed
        stop = list(options.stop) if options.stop is not None else None
        req = FakeRequest(messages, max_tokens, options.temperature, seed, options.logprobs, stop, options.stop_below)
        with self._lock:
            self.requests.append(req)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if callable(self._script):
                item = self._script(req)
            elif seed is not None:
                item = self._script[int(seed) % len(self._script)]
            else:
                item = next(self._cycle)  # type: ignore[arg-type]
        resp = item if isinstance(item, FakeResponse) else FakeResponse(str(item))
        try:
            if self.latency or resp.delay:
                await asyncio.sleep(self.latency + resp.delay)
        finally:
            with self._lock:
                self.in_flight -= 1
        if resp.error is not None:
            raise resp.error
        words = _words(resp.text)
        finish = "stop"
        text = resp.text
        if len(words) > max_tokens:
            words, finish = words[:max_tokens], "length"
            text = " ".join(words)
        values = resp.logprobs if resp.logprobs is not None else [resp.token_logprob] * len(words)
        if options.stop_below is not None:  # the online cut, token by token as a real model is
            watch = GroupWatch(StopBelow(*options.stop_below))
            for i, v in enumerate(values):
                if watch.add(TokenLogprob(words[i], float(v))):
                    words, finish = words[: i + 1], "confidence"
                    text = " ".join(words)
                    break
        lps = None
        if options.logprobs or options.stop_below is not None:
            lps = [TokenLogprob(w, float(v)) for w, v in zip(words, values)]
        return RawCompletion(
            text=text,
            finish_reason=finish,
            prompt_tokens=self.count_tokens(messages),
            completion_tokens=len(words),
            logprobs=lps,
        )

    async def score(self, prompt: str, continuation: str) -> Score:
        with self._lock:
            self.scored.append((prompt, continuation))
        words = _words(continuation) or [continuation]
        total = self._score_fn(prompt, continuation) if self._score_fn else -float(len(words))
        each = total / len(words)
        return Score(words, [each] * len(words), Usage(prompt_tokens=len(_words(prompt)) + len(words), calls=1))


class FakeLLM(LLM):
    """An :class:`LLM` answering from a script. ``requests`` lists what it was asked."""

    def __init__(
        self,
        responses: Script = ("The answer is 42.",),
        *,
        score: Callable[[str, str], float] | None = None,
        capabilities: Capabilities | None = None,
        latency: float = 0.0,
        name: str = "fake",
        **llm_kwargs: Any,
    ) -> None:
        self.fake = FakeModel(responses, score=score, capabilities=capabilities, latency=latency)
        super().__init__(f"fake/{name}", transport=self.fake, **llm_kwargs)

    @property
    def requests(self) -> list[FakeRequest]:
        return self.fake.requests


@dataclass
class FakeRetriever:
    """A retriever over a fixed list of documents: returns those sharing the most words with the query."""

    documents: list[Document] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)

    def retrieve(self, query: str, k: int = 5) -> list[Document]:
        self.queries.append(query)
        q = set(query.lower().split())
        scored = sorted(
            self.documents, key=lambda d: (-len(q & set(d.text.lower().split())), d.id)
        )
        return [Document(d.id, d.text, d.title, float(len(q & set(d.text.lower().split()))), d.metadata)
                for d in scored[:k]]

    async def aretrieve(self, query: str, k: int = 5) -> list[Document]:
        return self.retrieve(query, k)
