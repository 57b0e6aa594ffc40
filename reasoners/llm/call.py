"""One model call's path, for every method of :class:`~reasoners.llm.LLM`: reserve the budget ->
look in the cache (or join an identical call in flight) -> the transport, with retries -> settle
the budget -> store -> trace. Generation, streaming and prompt scoring all go this way."""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

from ..core.budget import Meter, Reservation
from ..core.errors import (
    APIConnectionError,
    CapabilityError,
    LLMError,
    MalformedResponseError,
    RequestTimeout,
)
from ..core.trace import span
from ..core.usage import Usage
from .cache import Cache, InFlight, cache_key, cached_score, lookup
from .convert import describe
from .options import SamplingOptions
from .reasoning import ReasoningDelta, StreamSplitter, ThinkingFormat, split_reasoning
from .retry import RetryPolicy
from .transport import ModelInfo, Reply, Transport, completions
from .types import Completion, Score

__all__ = ["CallPath", "BILLABLE"]

BILLABLE = (RequestTimeout, APIConnectionError, MalformedResponseError)
"""Failures after which the provider may have generated (and billed) the reply: the attempt is
charged at its reservation. Refusals (rate limits, 4xx, 5xx) are not."""

log = logging.getLogger(__name__)

Messages = list[dict[str, Any]]


class CallPath:
    """The call path of one client: its transport, cache, retries, concurrency limit, and what it
    learns of the backend's prompt counting."""

    def __init__(self, model: str, api_base: str | None, transport: Transport, info: ModelInfo, *,
                 cache: Cache | None,
                 retry: RetryPolicy, timeout: float, concurrency: int,
                 thinking: ThinkingFormat | None = None, cache_scope: str = "") -> None:
        self.model, self.api_base, self.transport, self.info = model, api_base, transport, info
        self.cache_scope = cache_scope
        self.thinking = thinking or ThinkingFormat()
        self.cache, self.retry, self.timeout, self.concurrency = cache, retry, timeout, concurrency
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self.in_flight = InFlight()
        self._undercounts: collections.deque[tuple[int, int]] = collections.deque(maxlen=64)

    def semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return sem

    # -- generation ----------------------------------------------------------------------

    async def request(
        self,
        messages: Messages,
        options: SamplingOptions,
        indices: list[int],
        prompt_tokens: int,
        budget: Meter,
        *,
        native: bool = False,
    ) -> list[Completion]:
        """The samples ``indices`` of one request: from the cache, from an identical call
        already in flight, or fetched (see :meth:`_fetch`); ``native`` marks an ``n`` request."""
        async with self.semaphore():
            reservation, options, request, keys, got = await self.reserve(messages, options, indices,
                                                                           prompt_tokens, budget)
            missing = [i for i in indices if i not in got]
            with span("llm", self.model, request=request, samples=indices) as s:
                t0 = time.perf_counter()
                attempts = 0
                try:
                    while missing:  # again only for samples whose shared call failed
                        shared, own = self.in_flight.claim(keys, missing, share=self.cache is not None)
                        fetch = self.fetch(messages, options, own, keys, prompt_tokens, reservation, native=native)
                        if shared:
                            (fetched, tries), waited = await asyncio.gather(fetch, self.in_flight.wait(shared))
                            got.update(waited)
                        else:
                            fetched, tries = await fetch
                        attempts += tries
                        got.update(fetched)
                        missing = [i for i in shared if i not in got]
                except BaseException:
                    budget.settle(reservation, _sum_usage(got.values()) if got else None)
                    if s is not None:
                        s.attrs["attempts"] = attempts
                    raise
                out = [got[i] for i in indices if i in got]
                usage = _sum_usage(out)
                budget.settle(reservation, usage)
                # A server that ignores max_tokens: the tokens count all the same (the budget may end
                # up over its limit, and so exhausted); the call is flagged.
                over = [c.usage.completion_tokens for c in out if c.usage.completion_tokens > reservation.max_tokens]
                if over:
                    log.warning("%s returned %d completion tokens where max_tokens was %d", self.model,
                                max(over), reservation.max_tokens)
                if s is not None:
                    s.usage = usage
                    if over:
                        s.attrs["over_max_tokens"] = {"max_tokens": reservation.max_tokens, "completion_tokens": over}
                    s.attrs.update(
                        response=[_traced(c) for c in out],
                        cached=all(c.cached for c in out),
                        retries=max(0, attempts - 1),
                        latency=time.perf_counter() - t0,
                    )
            return out

    async def reserve(
        self, messages: Messages, options: SamplingOptions, indices: list[int], prompt_tokens: int, budget: Meter
    ) -> tuple[Reservation, SamplingOptions, dict[str, Any], dict[int, str], dict[int, Completion]]:
        """Reserve the samples ``indices`` against ``budget``; the options as granted (``max_tokens``
        may be clamped), the request as cached, its samples' cache keys and those already cached."""
        prompt_price, completion_price = self.info.prices()
        reservation = await budget.areserve(prompt_tokens=prompt_tokens + self.prompt_margin(prompt_tokens),
                                            max_tokens=options.max_tokens, n=len(indices),
                                            prompt_price=prompt_price, completion_price=completion_price)
        asked = options.max_tokens
        options = options.merged(max_tokens=reservation.max_tokens)
        request = {"messages": messages, **options.params()}
        keys, got = lookup(self.cache, self.cache_model(), request, indices, asked)
        for c in got.values():  # an entry stored before thinking was separated: separate it now
            if c.reasoning is None:
                split = split_reasoning(c.text, c.logprobs, self.thinking)
                c.text, c.reasoning, c.logprobs, c.reasoning_logprobs = (split.text, split.reasoning, split.logprobs,
                                                                         split.reasoning_logprobs)
        return reservation, options, request, keys, got

    async def fetch(
        self,
        messages: Messages,
        options: SamplingOptions,
        futures: dict[int, asyncio.Future[Completion]],
        keys: dict[int, str],
        prompt_tokens: int,
        reservation: Reservation,
        *,
        native: bool,
    ) -> tuple[dict[int, Completion], int]:
        """Send the samples of ``futures``, cache them and resolve the futures for calls waiting on them.

        One request asks for them all, unless it would repeat samples already drawn: a seeded
        ``n`` request for samples 8-15 (0-7 cached) would return 0-7 again, so each such sample
        goes alone with seed ``seed + index``, as on backends without ``n``.
        """
        if not futures:
            return {}, 0
        indices = list(futures)
        got: dict[int, Completion] = {}
        try:
            if native and options.seed is not None and indices != list(range(len(indices))):
                sent = await asyncio.gather(*(self.send(messages, _alone(options, i), 1, reservation)
                                              for i in indices))
                fresh, attempts = [c for cs, _ in sent for c in cs], sum(a for _, a in sent)
            else:
                fresh, attempts = await self.send(messages, options, len(indices), reservation)
            self.learn_margin(prompt_tokens, fresh[0].usage.prompt_tokens)
            for i, c in zip(indices, fresh):
                c.index = i
                got[i] = c
                if self.cache is not None:
                    self.cache.put(keys[i], c.to_dict())
                futures[i].set_result(c)
            return got, attempts
        finally:
            self.in_flight.release(futures, keys)

    def learn_margin(self, counted: int, actual: int) -> None:
        """Remember how far a prompt's count fell short of the backend's.

        litellm counts with a generic tokenizer and cannot see a server's chat template
        (SmolLM2's adds a 20-token system prompt), so a request may undercount; later
        reservations add a margin learned from the last 64 requests (see :meth:`prompt_margin`).
        """
        if actual > counted:
            self._undercounts.append((max(1, counted), actual - counted))

    def prompt_margin(self, counted: int) -> int:
        """Tokens to add to a prompt counted at ``counted``: the worst recent undercount, scaled
        down where it was seen on a longer prompt (a tokenizer's error grows with the text). So
        one long prompt cannot inflate every later reservation on a shared client, and the margin
        falls back toward what is measured as the window moves on."""
        return max((math.ceil(err * min(1.0, counted / seen)) for seen, err in self._undercounts), default=0)

    def cache_model(self) -> str:
        name = f"{self.model}@{self.api_base}" if self.api_base else self.model
        return f"{name}#{self.cache_scope}" if self.cache_scope else name

    async def send(
        self, messages: Messages, options: SamplingOptions, n: int, reservation: Reservation
    ) -> tuple[list[Completion], int]:
        """The transport call with retries. Returns completions and the number of attempts.

        Charged >= billed: an attempt the client abandons (timed out, cut off, answered with
        garbage, or cancelled) may have been billed in full, so it is charged at its hold
        (:meth:`Reservation.charge`), and the retry after it must reserve room anew
        (:meth:`Budget.extend`) or the request ends with :class:`BudgetExhausted`. No retry
        waits past the budget's time limit."""
        attempts, owed = 0, False

        async def attempt() -> Reply:
            nonlocal attempts, owed
            attempts += 1
            if owed:  # the attempt before this one was charged: this one needs room of its own
                reservation.budget.extend(reservation, n)
                owed = False
            try:
                return await self.transport.complete(messages, options, n=n, timeout=reservation.timeout(self.timeout))
            except LLMError as err:
                log.debug("attempt %d on %s failed: %s", attempts, self.model, describe(err))
                if isinstance(err, BILLABLE):
                    reservation.charge(n)
                    owed = True
                raise
            except asyncio.CancelledError:
                reservation.charge(n)
                raise

        reply = await self.retry.call(attempt, reservation.deadline)
        out = completions(self.counted(reply, messages), self.model, self.info.prices(), self.thinking)
        for c in out:
            self.count_reasoning(c)
        return out, attempts

    def counted(self, reply: Reply, messages: Messages) -> Reply:
        """``reply`` with its usage counted here where the backend sent none (llama.cpp's server sends
        no usage chunk when streaming) or only part (a stream cut by confidence: the tokens that
        arrived), so that a reply is never cheaper for the budget than its text."""
        choice = reply.choices[0] if reply.choices else None
        if choice is None:
            return reply
        text = choice.text + (choice.reasoning or "")
        if not reply.prompt_tokens and not reply.completion_tokens:
            reply.prompt_tokens = self.info.count_tokens(messages)
            reply.completion_tokens = self.info.count_text(text) if text else 0
            reply.extra["usage_counted"] = True
        elif reply.extra.get("partial_usage"):
            reply.prompt_tokens = reply.prompt_tokens or self.info.count_tokens(messages)
            reply.completion_tokens = max(reply.completion_tokens, self.info.count_text(text) if text else 0)
        return reply

    def count_reasoning(self, c: Completion) -> None:
        """Give a completion whose thinking came uncounted (inline tags) its reasoning token count,
        for traces: part of ``completion_tokens`` already, so nothing more is charged."""
        if c.reasoning and not c.usage.reasoning_tokens:
            counted = len(c.reasoning_logprobs) if c.reasoning_logprobs else self.info.count_text(c.reasoning)
            c.usage.reasoning_tokens = min(counted, c.usage.completion_tokens) if c.usage.completion_tokens \
                else counted

    async def stream(
        self, messages: Messages, options: SamplingOptions, prompt_tokens: int, budget: Meter
    ) -> AsyncIterator[str | ReasoningDelta | Completion]:
        """One sample as deltas (answer text as ``str``, thinking as :class:`ReasoningDelta`),
        then the whole completion (see :meth:`LLM.astream`)."""
        async with self.semaphore():
            reservation, options, request, keys, got = await self.reserve(messages, options, [0], prompt_tokens,
                                                                           budget)
            with span("llm", self.model, request=request, samples=[0], stream=True) as s:
                t0 = time.perf_counter()
                completion: Completion | None = got.get(0)
                try:
                    if completion is not None:
                        if completion.reasoning:
                            yield ReasoningDelta(completion.reasoning)
                        if completion.text:
                            yield completion.text
                    else:
                        broke: LLMError | None = None  # a failure after text went out: not retried
                        owed = False
                        async for attempt in self.retry.retrying(reservation.deadline):
                            with attempt:
                                if owed:
                                    reservation.budget.extend(reservation)
                                    owed = False
                                sent = False
                                splitter = StreamSplitter(self.thinking)
                                try:
                                    async for item in self.transport.stream(
                                            messages, options, timeout=reservation.timeout(self.timeout)):
                                        if isinstance(item, Reply):
                                            completion = completions(self.counted(item, messages), self.model,
                                                                     self.info.prices(),
                                                                     self.thinking)[0]
                                            self.count_reasoning(completion)
                                            pieces: list[str | ReasoningDelta] = splitter.close()
                                        else:
                                            pieces = [item] if isinstance(item, ReasoningDelta) else \
                                                splitter.feed(item)
                                        for piece in pieces:
                                            sent = True
                                            yield piece
                                except LLMError as e:
                                    if isinstance(e, BILLABLE):
                                        reservation.charge()
                                        owed = True
                                    if not sent:
                                        raise
                                    broke = e
                                except (asyncio.CancelledError, GeneratorExit):
                                    if completion is None:  # abandoned mid-stream: may be billed whole
                                        reservation.charge()
                                    raise
                        if broke is not None:
                            raise broke
                        assert completion is not None
                        self.learn_margin(prompt_tokens, completion.usage.prompt_tokens)
                        if self.cache is not None:
                            self.cache.put(keys[0], completion.to_dict())
                except BaseException:
                    budget.settle(reservation, completion.usage if completion is not None else None)
                    raise
                budget.settle(reservation, completion.usage)
                if s is not None:
                    s.usage = completion.usage
                    s.attrs.update(response=[_traced(completion)], cached=completion.cached,
                                   latency=time.perf_counter() - t0)
        yield completion

    async def score(self, prompt: str, continuation: str, budget: Meter) -> Score:
        """One prompt score: reserved, cached, retried, traced (see :meth:`LLM.ascore`). A reply
        without prompt logprobs is a :class:`CapabilityError`, and nothing is cached."""
        n_tokens = self.info.count_text(prompt + continuation)
        async with self.semaphore():
            reservation = await budget.areserve(prompt_tokens=n_tokens, max_tokens=1,
                                                prompt_price=self.info.prices()[0])
            key = cache_key("score", self.cache_model(), {"prompt": prompt, "continuation": continuation})
            with span("score", self.model, prompt=prompt, continuation=continuation) as s:
                hit = cached_score(self.cache, key) if self.cache is not None else None
                result: Score
                if hit is not None:
                    result = hit
                    result.cached, result.usage.cache_hits = True, 1
                else:
                    try:
                        result = await self._score(prompt, continuation, reservation)
                    except BaseException:
                        budget.settle(reservation, None)
                        raise
                    if self.cache is not None:
                        self.cache.put(key, result.to_dict())
                budget.settle(reservation, result.usage)
                if s is not None:
                    s.usage = result.usage
                    s.attrs.update(tokens=result.tokens, logprobs=result.logprobs, cached=result.cached)
        return result

    async def _score(self, prompt: str, continuation: str, reservation: Reservation) -> Score:
        owed = False

        async def attempt() -> Score:
            nonlocal owed
            if owed:  # charged >= billed, as in send
                reservation.budget.extend(reservation)
                owed = False
            try:
                return await self.transport.score(prompt, continuation, timeout=reservation.timeout(self.timeout))
            except BILLABLE:
                reservation.charge()
                owed = True
                raise
            except asyncio.CancelledError:
                reservation.charge()
                raise

        result = await self.retry.call(attempt, reservation.deadline)
        if not result.logprobs:
            raise CapabilityError(f"{self.model}: the server returned no prompt logprobs; it cannot score text")
        return result


REASONING_IN_TRACE = 20_000
"""Characters of a call's thinking kept in its trace node (the rest is cut, and said so)."""


def _traced(c: Completion) -> dict[str, Any]:
    """A completion as its call's trace node keeps it: the final text, and the thinking (bounded)
    with its token count."""
    out: dict[str, Any] = {"text": c.text, "finish_reason": c.finish_reason}
    if c.reasoning:
        out["reasoning"] = c.reasoning[:REASONING_IN_TRACE]
        out["reasoning_tokens"] = c.usage.reasoning_tokens
        if len(c.reasoning) > REASONING_IN_TRACE:
            out["reasoning_cut"] = len(c.reasoning)
    if c.abstained == "starved":
        out["starved"] = True
    return out


def _alone(options: SamplingOptions, i: int) -> SamplingOptions:
    """``options`` for sample ``i`` sent as its own request: seed ``seed + i`` (``i`` when none was given),
    so the samples of an ``n`` request sent one by one differ and replay."""
    return options.merged(seed=int(options.seed or 0) + i)


def _sum_usage(completions: Any) -> Usage:
    total = Usage()
    for c in completions:
        total = total + c.usage
    return total
