"""The LLM client: one object per model, async first, with budget, cache, retries, usage and trace.

Every request takes one path: validate -> reserve budget -> cache lookup ->
transport (with retries on transient errors) -> settle budget -> cache store ->
trace. The client holds that orchestration only; how a request reaches the model
is its :class:`~reasoners.llm.transport.Transport`, chosen once when the client
is made (:func:`~reasoners.llm.routing.choose_transport`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from typing_extensions import Unpack

from .._sync import run_sync
from ..budget import Budget, Reservation
from ..errors import AuthError, BudgetExhausted, CapabilityError, ConfigError, LLMError
from ..problem import FailedSample
from ..trace import span
from ..usage import Usage
from .cache import Cache, InFlight, cache_key, cached_score, lookup
from .convert import describe
from .inprocess import InProcessModel
from .options import SamplingArgs, SamplingOptions, to_messages
from .retry import RetryPolicy
from .routing import choose_transport
from .transport import Reply, Transport, completions
from .types import Capabilities, Completion, Score

__all__ = ["LLM"]

log = logging.getLogger(__name__)

Messages = list[dict[str, Any]]


class LLM:
    """A language model with the toolkit's budget, cache, retries and trace.

    ``model`` is any litellm model string (``"openai/gpt-4o-mini"``, ``"openai/x"`` with
    ``api_base=`` for an OpenAI-compatible server such as llama.cpp or vLLM) or
    ``"local/smollm2"`` / ``"local/<file.gguf>"`` for the embedded llama.cpp model.
    ``transport`` forces ``"litellm"`` or ``"openai"`` for an HTTP model, or takes a
    :class:`~reasoners.llm.transport.Transport` of one's own (see
    :func:`~reasoners.llm.routing.choose_transport` for the default).

    ``score_prefix`` matters only for :meth:`score` on a llama.cpp server: set it to
    the model's start token (``"<|im_start|>"`` for SmolLM2 and Qwen) when the model
    adds no BOS token, or the server's echoed logprobs are shifted by one.

    >>> llm = LLM("local/smollm2", cache=Cache("runs.sqlite"))   # doctest: +SKIP
    >>> llm.generate("What is 2+2?", n=3, temperature=0.8)[0].text  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        top_p: float | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        concurrency: int = 8,
        cache: Cache | None = None,
        capabilities: Capabilities | Mapping[str, bool] | None = None,
        backend: InProcessModel | None = None,
        transport: str | Transport | None = None,
        score_prefix: str = "",
        **litellm_kwargs: Any,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigError("LLM model must be a non-empty string such as 'local/smollm2' or 'openai/gpt-4o-mini'")
        if concurrency < 1:
            raise ConfigError("LLM concurrency must be >= 1")
        if max_tokens < 1:
            raise ConfigError("LLM max_tokens must be >= 1")
        if temperature < 0:
            raise ConfigError("LLM temperature must be >= 0")
        if api_base is not None:
            url = urlparse(api_base) if isinstance(api_base, str) else None
            if url is None or url.scheme not in ("http", "https") or not url.netloc:
                raise ConfigError(f"api_base must be an http(s) URL such as http://127.0.0.1:8080/v1; got {api_base!r}")
        if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
            raise ConfigError("api_key is empty; pass the key, or leave it out to read the provider's variable")
        forbidden = {"messages", "n", "stream"} & set(litellm_kwargs)
        if forbidden:
            raise ConfigError(f"LLM(...) does not take {sorted(forbidden)}; pass them per call or not at all")
        self.model = model
        self.api_base = api_base
        self.options = SamplingOptions(max_tokens=max_tokens, temperature=temperature, top_p=top_p)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self.cache = cache
        self.transport = choose_transport(model, api_base=api_base, api_key=api_key, backend=backend,
                                          transport=transport, extra=litellm_kwargs, score_prefix=score_prefix)
        self._capability_override = capabilities
        self._capabilities: Capabilities | None = None
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._in_flight = InFlight()
        self._prompt_margin = 0
        self._token_counts: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"LLM({self.model!r}" + (f", api_base={self.api_base!r})" if self.api_base else ")")

    # -- what the model can do -----------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """What this model can do (the transport's answer, then ``capabilities=``, then what was learned)."""
        if self._capabilities is None:
            self._capabilities = self.transport.capabilities().merged(self._capability_override)
        return self._capabilities

    def _learn(self, **found: bool) -> None:
        self._capabilities = self.capabilities.merged(found)

    def count_tokens(self, prompt: str | Sequence[Mapping[str, Any]]) -> int:
        """Prompt tokens as reserved against a budget (exact for in-process models)."""
        messages = to_messages(prompt)
        self.capabilities  # noqa: B018  (resolves the model: loads it, checks keys)
        key = json.dumps(messages, sort_keys=True)
        count = self._token_counts.get(key)
        if count is None:
            count = self.transport.count_tokens(messages)
            if len(self._token_counts) > 4096:  # strategies resend the same prompts; keep recent ones
                self._token_counts.clear()
            self._token_counts[key] = count
        return count

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return sem

    # -- generation ----------------------------------------------------------------------

    def _options(self, logprobs: bool, sampling: SamplingArgs) -> SamplingOptions:
        """The request's options: ``sampling`` over the client's defaults, fitted to the backend."""
        options = self.options.given(dict(sampling))
        caps = self.capabilities
        if logprobs:
            if caps.logprobs is False:
                raise CapabilityError(
                    f"{self.model} does not return token logprobs; use a strategy option that does not need them "
                    "(e.g. majority instead of weighted vote)"
                )
            # llama.cpp's server returns no logprobs without top_logprobs
            options = options.merged(logprobs=True, top_logprobs=1 if self.api_base else None)
        if not caps.seed and options.seed is not None:
            options = options.merged(seed=None)
        return options

    async def agenerate(
        self,
        prompt: str | Sequence[Mapping[str, Any]],
        *,
        n: int = 1,
        logprobs: bool = False,
        budget: Budget | None = None,
        failed: list[FailedSample] | None = None,
        **sampling: Unpack[SamplingArgs],
    ) -> list[Completion]:
        """Sample ``n`` completions of ``prompt`` (a string or chat messages).

        ``sampling`` (temperature, max_tokens, top_p, stop, seed, reasoning_effort) overrides
        the client's defaults for this call. Samples are sent as one
        request where the backend supports ``n``, else as concurrent single
        requests with distinct seeds (``seed + i``). Each sample is cached under
        its own index, so reruns replay exactly. Raises :class:`BudgetExhausted`
        when ``budget`` cannot fit even one sample; fewer than ``n`` completions
        come back only if the budget ran out part-way (check ``len``) or, when
        ``failed`` is given, if some single requests still failed after their
        retries: those are appended to ``failed`` and left out, and the call
        raises only when no sample succeeded. Without ``failed`` any failure raises.
        """
        messages = to_messages(prompt)
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"n must be a positive integer; got {n!r}")
        options = self._options(logprobs, sampling)
        caps = self.capabilities
        budget = budget if budget is not None else Budget()
        prompt_tokens = self.count_tokens(messages)

        if n > 1 and caps.n is not False:
            done = await self._request(messages, options, list(range(n)), prompt_tokens, budget, native=True)
            if caps.n is None:  # first multi-sample request doubles as the probe for `n`
                self._learn(n=len(done) == n)
            if len(done) == n or caps.n is True or not done:
                return done
            start = len(done)  # the server returned fewer choices than asked: it has no `n`
        else:
            done, start = [], 0

        refused: list[BudgetExhausted] = []
        errors: list[FailedSample] = []

        async def one(i: int) -> Completion | None:
            o = _alone(options, i) if options.seed is not None or (caps.seed and n > 1) else options
            try:
                out = await self._request(messages, o, [i], prompt_tokens, budget)
            except BudgetExhausted as e:
                refused.append(e)
                return None
            except AuthError:
                raise
            except LLMError as e:
                if failed is None:
                    raise
                errors.append(FailedSample(f"sample {i}", e))
                return None
            return out[0]

        rest = [c for c in await asyncio.gather(*(one(i) for i in range(start, n))) if c is not None]
        if not done and not rest:
            if errors:
                raise errors[0].error
            if refused:
                raise refused[0]
        if failed is not None:
            failed.extend(errors)
        return done + rest

    async def _request(
        self,
        messages: Messages,
        options: SamplingOptions,
        indices: list[int],
        prompt_tokens: int,
        budget: Budget,
        *,
        native: bool = False,
    ) -> list[Completion]:
        """The samples ``indices`` of one request: from the cache, from an identical call
        already in flight, or fetched (see :meth:`_fetch`); ``native`` marks an ``n`` request."""
        async with self._semaphore():
            reservation, options, request, keys, got = await self._reserve(messages, options, indices,
                                                                           prompt_tokens, budget)
            missing = [i for i in indices if i not in got]
            with span("llm", self.model, request=request, samples=indices) as s:
                t0 = time.perf_counter()
                attempts = 0
                try:
                    while missing:  # again only for samples whose shared call failed
                        shared, own = self._in_flight.claim(keys, missing, share=self.cache is not None)
                        fetch = self._fetch(messages, options, own, keys, prompt_tokens, reservation, native=native)
                        if shared:
                            (fetched, tries), waited = await asyncio.gather(fetch, self._in_flight.wait(shared))
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
                        response=[{"text": c.text, "finish_reason": c.finish_reason} for c in out],
                        cached=all(c.cached for c in out),
                        retries=max(0, attempts - 1),
                        latency=time.perf_counter() - t0,
                    )
            return out

    async def _reserve(
        self, messages: Messages, options: SamplingOptions, indices: list[int], prompt_tokens: int, budget: Budget
    ) -> tuple[Reservation, SamplingOptions, dict[str, Any], dict[int, str], dict[int, Completion]]:
        """Reserve the samples ``indices`` against ``budget``; the options as granted (``max_tokens``
        may be clamped), the request as cached, its samples' cache keys and those already cached."""
        prompt_price, completion_price = self.transport.prices()
        reservation = await budget.areserve(prompt_tokens=prompt_tokens + self._prompt_margin,
                                            max_tokens=options.max_tokens, n=len(indices),
                                            prompt_price=prompt_price, completion_price=completion_price)
        asked = options.max_tokens
        options = options.merged(max_tokens=reservation.max_tokens)
        request = {"messages": messages, **options.params()}
        keys, got = lookup(self.cache, self._cache_model(), request, indices, asked)
        return reservation, options, request, keys, got

    async def _fetch(
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
                sent = await asyncio.gather(*(self._send(messages, _alone(options, i), 1, reservation)
                                              for i in indices))
                fresh, attempts = [c for cs, _ in sent for c in cs], sum(a for _, a in sent)
            else:
                fresh, attempts = await self._send(messages, options, len(indices), reservation)
            self._learn_margin(prompt_tokens, fresh[0].usage.prompt_tokens)
            for i, c in zip(indices, fresh):
                c.index = i
                got[i] = c
                if self.cache is not None:
                    self.cache.put(keys[i], c.to_dict())
                futures[i].set_result(c)
            return got, attempts
        finally:
            self._in_flight.release(futures, keys)

    def _learn_margin(self, counted: int, actual: int) -> None:
        """Raise the margin added to counted prompts to the largest undercount seen so far.

        litellm counts with a generic tokenizer and cannot see a server's chat template
        (SmolLM2's adds a 20-token system prompt), so the first request may undercount;
        later reservations add the worst error observed on this client.
        """
        if actual > counted + self._prompt_margin:
            self._prompt_margin = actual - counted

    def _cache_model(self) -> str:
        return f"{self.model}@{self.api_base}" if self.api_base else self.model

    async def _send(
        self, messages: Messages, options: SamplingOptions, n: int, reservation: Reservation
    ) -> tuple[list[Completion], int]:
        """The transport call with retries. Returns completions and the number of attempts."""
        attempts = 0
        async for attempt in self.retry.retrying():
            with attempt:
                attempts += 1
                try:
                    reply = await self.transport.complete(messages, options, n=n,
                                                          timeout=reservation.timeout(self.timeout))
                except LLMError as err:
                    log.debug("attempt %d on %s failed: %s", attempts, self.model, describe(err))
                    raise
                out = completions(reply, self.model, self.transport.prices())
        return out, attempts

    def generate(
        self,
        prompt: str | Sequence[Mapping[str, Any]],
        *,
        n: int = 1,
        logprobs: bool = False,
        budget: Budget | None = None,
        failed: list[FailedSample] | None = None,
        **sampling: Unpack[SamplingArgs],
    ) -> list[Completion]:
        """Sync twin of :meth:`agenerate`."""
        return run_sync(self.agenerate(prompt, n=n, logprobs=logprobs, budget=budget, failed=failed, **sampling),
                        async_name="agenerate")

    # -- streaming -----------------------------------------------------------------------

    async def astream(
        self, prompt: str | Sequence[Mapping[str, Any]], *, budget: Budget | None = None,
        **sampling: Unpack[SamplingArgs],
    ) -> AsyncIterator[str | Completion]:
        """One sample of ``prompt`` as text deltas while the model writes it, then the whole
        :class:`Completion` (usage included). Budgeted, cached and traced like :meth:`agenerate`;
        a cached sample comes as one delta. Transient failures are retried until the first delta
        has gone out, not after (the caller has the text)."""
        messages = to_messages(prompt)
        options = self._options(False, sampling)
        budget = budget if budget is not None else Budget()
        prompt_tokens = self.count_tokens(messages)
        async with self._semaphore():
            reservation, options, request, keys, got = await self._reserve(messages, options, [0], prompt_tokens,
                                                                           budget)
            with span("llm", self.model, request=request, samples=[0], stream=True) as s:
                t0 = time.perf_counter()
                completion: Completion | None = got.get(0)
                try:
                    if completion is not None:
                        yield completion.text
                    else:
                        broke: LLMError | None = None  # a failure after text went out: not retried
                        async for attempt in self.retry.retrying():
                            with attempt:
                                sent = False
                                try:
                                    async for item in self.transport.stream(
                                            messages, options, timeout=reservation.timeout(self.timeout)):
                                        if isinstance(item, Reply):
                                            completion = completions(item, self.model, self.transport.prices())[0]
                                        else:
                                            sent = True
                                            yield item
                                except LLMError as e:
                                    if not sent:
                                        raise
                                    broke = e
                        if broke is not None:
                            raise broke
                        assert completion is not None
                        self._learn_margin(prompt_tokens, completion.usage.prompt_tokens)
                        if self.cache is not None:
                            self.cache.put(keys[0], completion.to_dict())
                except BaseException:
                    budget.settle(reservation, completion.usage if completion is not None else None)
                    raise
                budget.settle(reservation, completion.usage)
                if s is not None:
                    s.usage = completion.usage
                    s.attrs.update(response=[{"text": completion.text, "finish_reason": completion.finish_reason}],
                                   cached=completion.cached, latency=time.perf_counter() - t0)
        yield completion

    # -- scoring -------------------------------------------------------------------------

    async def ascore(self, prompt: str, continuation: str, *, budget: Budget | None = None) -> Score:
        """Per-token log P(continuation | prompt) on raw text (no chat template is applied).

        Works on in-process models and on OpenAI-compatible servers that echo prompt
        logprobs from ``/v1/completions`` (llama.cpp, vLLM). Elsewhere raises
        :class:`CapabilityError` before anything is spent.
        """
        if not isinstance(prompt, str) or not prompt:
            raise ConfigError("score: prompt must be a non-empty string")
        if not isinstance(continuation, str) or not continuation:
            raise ConfigError("score: continuation must be a non-empty string")
        if self.capabilities.prompt_logprobs is False:
            raise CapabilityError(
                f"{self.model} cannot score prompt tokens. Use an in-process model ('local/...'), an "
                "OpenAI-compatible server that echoes prompt logprobs (llama.cpp, vLLM) via api_base, "
                "or a scorer that does not need them (LLMJudge, MeanLogprob)"
            )
        budget = budget if budget is not None else Budget()
        n_tokens = self.transport.count_text(prompt + continuation)
        async with self._semaphore():
            reservation = await budget.areserve(prompt_tokens=n_tokens, max_tokens=1,
                                                prompt_price=self.transport.prices()[0])
            key = cache_key("score", self._cache_model(), {"prompt": prompt, "continuation": continuation})
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
        async for attempt in self.retry.retrying():
            with attempt:
                result = await self.transport.score(prompt, continuation, timeout=reservation.timeout(self.timeout))
        if not result.logprobs:
            self._learn(prompt_logprobs=False)
            raise CapabilityError(f"{self.model}: the server returned no prompt logprobs; it cannot score text")
        return result

    def score(self, prompt: str, continuation: str, *, budget: Budget | None = None) -> Score:
        """Sync twin of :meth:`ascore`."""
        return run_sync(self.ascore(prompt, continuation, budget=budget), async_name="ascore")

    # -- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        await self.transport.aclose()
        if self.cache is not None:
            self.cache.close()

    async def __aenter__(self) -> LLM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _alone(options: SamplingOptions, i: int) -> SamplingOptions:
    """``options`` for sample ``i`` sent as its own request: seed ``seed + i`` (``i`` when none was given),
    so the samples of an ``n`` request sent one by one differ and replay."""
    return options.merged(seed=int(options.seed or 0) + i)


def _sum_usage(completions: Any) -> Usage:
    total = Usage()
    for c in completions:
        total = total + c.usage
    return total
