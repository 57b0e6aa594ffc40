"""The LLM client: one object per model, async first, with budget, cache, retries, usage and trace.

The client holds the public API and its orchestration: options merged once over
the defaults, capabilities, prompt counting, and the fan-out of ``n`` samples
(one request where the backend has ``n``, else seeded single requests, failures
isolated). Each request then takes one path (:mod:`~reasoners.llm.call`): reserve
budget -> cache lookup -> transport with retries -> settle -> store -> trace. How
a request reaches the model is its :class:`~reasoners.llm.transport.Transport`,
chosen once when the client is made (:func:`~reasoners.llm.routing.choose_transport`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from typing_extensions import Unpack

from ..core.budget import Budget, Meter, meter_for
from ..core.errors import (
    AuthError,
    BudgetExhausted,
    CapabilityError,
    ConfigError,
    LLMError,
    SamplesFailed,
)
from ..core.sync import run_sync
from .cache import Cache
from .call import CallPath, _alone
from .inprocess import InProcessModel, InProcessTransport
from .options import SamplingArgs, SamplingOptions, to_messages
from .reasoning import THINKING_TOKENS, ReasoningDelta, ThinkingFormat
from .retry import RetryPolicy
from .routing import choose_transport
from .transport import ModelInfo, Transport
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
    :class:`~reasoners.llm.transport.Transport` or an in-process model
    (:class:`~reasoners.llm.inprocess.InProcessModel`: the fakes, LangChain chat models) of one's
    own; ``info`` what is known of the model (a :class:`~reasoners.llm.transport.ModelInfo`; see
    :func:`~reasoners.llm.routing.choose_transport` for the defaults).

    ``score_prefix`` matters only for :meth:`score` on a llama.cpp server: set it to
    the model's start token (``"<|im_start|>"`` for SmolLM2 and Qwen) when the model
    adds no BOS token, or the server's echoed logprobs are shifted by one.

    Reasoning models: a completion's ``text`` is its final answer and ``reasoning`` its
    thinking, however the provider sends it (see :mod:`reasoners.llm.reasoning`);
    ``thinking`` sets the inline tags (default ``<think>``/``</think>``). ``cache_scope``
    keeps this client's cache entries apart from other clients' of the same model (a server
    gives each API key its own). Where the model
    is known to think (``capabilities.thinks``) and ``max_tokens`` was not given, a call
    asks for :data:`~reasoners.llm.reasoning.THINKING_TOKENS` more (or its
    ``thinking_tokens`` more), within the caller's budget.

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
        max_tokens: int | None = None,
        top_p: float | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        concurrency: int = 8,
        cache: Cache | None = None,
        capabilities: Capabilities | Mapping[str, bool] | None = None,
        transport: str | Transport | InProcessModel | None = None,
        info: ModelInfo | None = None,
        score_prefix: str = "",
        thinking: ThinkingFormat | tuple[str, str] | None = None,
        cache_scope: str = "",
        **litellm_kwargs: Any,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise ConfigError("LLM model must be a non-empty string such as 'local/smollm2' or 'openai/gpt-4o-mini'")
        if concurrency < 1:
            raise ConfigError("LLM concurrency must be >= 1")
        self._max_tokens_given = max_tokens is not None
        max_tokens = 512 if max_tokens is None else max_tokens
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise ConfigError("LLM max_tokens must be >= 1")
        if isinstance(thinking, tuple):
            thinking = ThinkingFormat(*thinking)
        if thinking is not None and not isinstance(thinking, ThinkingFormat):
            raise ConfigError("LLM thinking must be a ThinkingFormat or an (open, close) pair of tags")
        if temperature < 0:
            raise ConfigError("LLM temperature must be >= 0")
        if api_base is not None:
            url = urlparse(api_base) if isinstance(api_base, str) else None
            if url is None or url.scheme not in ("http", "https") or not url.netloc:
                raise ConfigError(f"api_base must be an http(s) URL such as http://127.0.0.1:8080/v1; got {api_base!r}")
        if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
            raise ConfigError("api_key is empty; pass the key, or leave it out to read the provider's variable")
        if "backend" in litellm_kwargs:
            raise ConfigError("LLM(backend=...) is LLM(transport=...): an in-process model is given as the transport")
        forbidden = {"messages", "n", "stream"} & set(litellm_kwargs)
        if forbidden:
            raise ConfigError(f"LLM(...) does not take {sorted(forbidden)}; pass them per call or not at all")
        self.model = model
        self.api_base = api_base
        self.options = SamplingOptions(max_tokens=max_tokens, temperature=temperature, top_p=top_p)
        self.transport, self.info = choose_transport(model, api_base=api_base, api_key=api_key, transport=transport,
                                                     info=info, extra=litellm_kwargs, score_prefix=score_prefix)
        self._capability_override = capabilities
        self._capabilities: Capabilities | None = None
        self._path = CallPath(model, api_base, self.transport, self.info, cache=cache, retry=retry or RetryPolicy(),
                              timeout=timeout, concurrency=concurrency, thinking=thinking, cache_scope=cache_scope)
        self._token_counts: dict[str, int] = {}

    @property
    def cache(self) -> Cache | None:
        return self._path.cache

    @property
    def retry(self) -> RetryPolicy:
        return self._path.retry

    @property
    def timeout(self) -> float:
        return self._path.timeout

    @property
    def concurrency(self) -> int:
        return self._path.concurrency

    def __repr__(self) -> str:
        return f"LLM({self.model!r}" + (f", api_base={self.api_base!r})" if self.api_base else ")")

    # -- what the model can do -----------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        """What this model can do (the transport's answer, then ``capabilities=``, then what was learned)."""
        if self._capabilities is None:
            self._capabilities = self.info.capabilities().merged(self._capability_override)
        return self._capabilities

    def _learn(self, **found: bool) -> None:
        self._capabilities = self.capabilities.merged(found)

    def _learn_thinking(self, completions: Sequence[Completion]) -> None:
        """A reply that carries thinking shows the model thinks (when that was unknown)."""
        if self.capabilities.thinks is None and any(c.reasoning for c in completions):
            self._learn(thinks=True)

    def count_tokens(self, prompt: str | Sequence[Mapping[str, Any]]) -> int:
        """Prompt tokens as reserved against a budget (exact for in-process models)."""
        messages = to_messages(prompt)
        self.capabilities  # noqa: B018  (resolves the model: loads it, checks keys)
        key = json.dumps(messages, sort_keys=True)
        count = self._token_counts.get(key)
        if count is None:
            count = self.info.count_tokens(messages)
            if len(self._token_counts) > 4096:  # strategies resend the same prompts; keep recent ones
                self._token_counts.clear()
            self._token_counts[key] = count
        return count

    def _reserved_prompt(self, messages: list[dict[str, Any]], budget: Meter, max_tokens: int, n: int) -> int:
        """The prompt tokens a request reserves. Counted exactly (:meth:`count_tokens`, a tokenizer
        run per new prompt) only where the count can decide something: a cost limit, a model in
        this process (its count is exact and cheap), or a token limit with less than twice the
        request's room left. Elsewhere a bound that costs nothing stands in: every token of a
        byte-level tokenizer spans at least one byte, plus room for each message's role markers.
        The reply's own usage settles the reservation either way."""
        bound = _prompt_bound(messages)
        if bound is None or isinstance(self.transport, InProcessTransport) or budget.cost_left() is not None:
            return self.count_tokens(messages)
        left = budget.tokens_left()
        if left is not None and left < 2 * n * (bound + max_tokens):
            return self.count_tokens(messages)
        return bound

    def _options(self, logprobs: bool, sampling: SamplingArgs) -> SamplingOptions:
        """The request's options: ``sampling`` over the client's defaults, fitted to the backend.
        A model that thinks gets room for its thinking on top of the answer's ``max_tokens``,
        unless the caller set ``max_tokens`` (the budget's reservation still clamps it)."""
        options = self.options.given(dict(sampling))
        caps = self.capabilities
        if "max_tokens" not in sampling and not self._max_tokens_given:
            if options.thinking_tokens is not None:
                options = options.merged(max_tokens=options.max_tokens + options.thinking_tokens)
            elif caps.thinks:
                options = options.merged(max_tokens=options.max_tokens + THINKING_TOKENS)
        if logprobs:
            if caps.logprobs is False:
                raise CapabilityError(
                    f"{self.model} does not return token logprobs; use a strategy option that does not need them "
                    "(e.g. majority instead of weighted vote)"
                )
            # llama.cpp's server returns no logprobs without top_logprobs
            options = options.merged(logprobs=True,
                                     top_logprobs=options.top_logprobs or (1 if self.api_base else None))
        if options.stop_below is not None and caps.logprobs is False:
            raise CapabilityError(f"{self.model} returns no token logprobs, so a generation cannot be cut by its "
                                  "confidence (stop_below); use a backend with logprobs")
        if not caps.seed and options.seed is not None:
            options = options.merged(seed=None)
        return options

    async def agenerate(
        self,
        prompt: str | Sequence[Mapping[str, Any]],
        *,
        n: int = 1,
        logprobs: bool = False,
        budget: Budget | Meter | None = None,
        **sampling: Unpack[SamplingArgs],
    ) -> list[Completion]:
        """Sample ``n`` completions of ``prompt`` (a string or chat messages).

        ``sampling`` (temperature, max_tokens, top_p, stop, seed, reasoning_effort,
        thinking_tokens) overrides
        the client's defaults for this call. Samples are sent as one
        request where the backend supports ``n``, else as concurrent single
        requests with distinct seeds (``seed + i``). Each sample is cached under
        its own index, so reruns replay exactly. Raises :class:`BudgetExhausted`
        when ``budget`` cannot fit even one sample; fewer than ``n`` completions
        come back only if the budget ran out part-way (check ``len``). When some
        single requests still fail after their retries the call raises: the first
        error when no sample came back, else :class:`SamplesFailed` holding the
        samples that did (``.completions``), so none is lost.
        """
        messages = to_messages(prompt)
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"n must be a positive integer; got {n!r}")
        options = self._options(logprobs, sampling)
        caps = self.capabilities
        budget = meter_for(budget)
        prompt_tokens = self._reserved_prompt(messages, budget, options.max_tokens, n)

        if n > 1 and caps.n is not False:
            done = await self._path.request(messages, options, list(range(n)), prompt_tokens, budget, native=True)
            if caps.n is None:  # first multi-sample request doubles as the probe for `n`
                self._learn(n=len(done) == n)
            if len(done) == n or caps.n is True or not done:
                self._learn_thinking(done)
                return done
            start = len(done)  # the server returned fewer choices than asked: it has no `n`
        else:
            done, start = [], 0

        refused: list[BudgetExhausted] = []
        errors: list[tuple[int, LLMError]] = []

        async def one(i: int) -> Completion | None:
            o = _alone(options, i) if options.seed is not None or (caps.seed and n > 1) else options
            try:
                out = await self._path.request(messages, o, [i], prompt_tokens, budget)
            except BudgetExhausted as e:
                refused.append(e)
                return None
            except AuthError:
                raise
            except LLMError as e:
                errors.append((i, e))
                return None
            return out[0]

        rest = [c for c in await asyncio.gather(*(one(i) for i in range(start, n))) if c is not None]
        self._learn_thinking(done + rest)
        if not done and not rest:
            if errors:
                raise errors[0][1]
            if refused:
                raise refused[0]
        if errors:
            raise SamplesFailed(done + rest, errors)
        return done + rest

    def generate(
        self,
        prompt: str | Sequence[Mapping[str, Any]],
        *,
        n: int = 1,
        logprobs: bool = False,
        budget: Budget | Meter | None = None,
        **sampling: Unpack[SamplingArgs],
    ) -> list[Completion]:
        """Sync twin of :meth:`agenerate`."""
        return run_sync(self.agenerate(prompt, n=n, logprobs=logprobs, budget=budget, **sampling),
                        async_name="agenerate")

    # -- streaming -----------------------------------------------------------------------

    async def astream(
        self, prompt: str | Sequence[Mapping[str, Any]], *, budget: Budget | Meter | None = None,
        **sampling: Unpack[SamplingArgs],
    ) -> AsyncIterator[str | ReasoningDelta | Completion]:
        """One sample of ``prompt`` as deltas while the model writes it, then the whole
        :class:`Completion` (usage included): answer text as ``str``, thinking as
        :class:`~reasoners.llm.reasoning.ReasoningDelta`. Budgeted, cached and traced like
        :meth:`agenerate`; a cached sample comes as one delta of each. Transient failures are
        retried until the first delta has gone out, not after (the caller has the text)."""
        messages = to_messages(prompt)
        options = self._options(False, sampling)
        budget = meter_for(budget)
        prompt_tokens = self._reserved_prompt(messages, budget, options.max_tokens, 1)
        async for item in self._path.stream(messages, options, prompt_tokens, budget):
            if isinstance(item, Completion):
                self._learn_thinking([item])
            yield item

    # -- scoring -------------------------------------------------------------------------

    async def ascore(self, prompt: str, continuation: str, *, budget: Budget | Meter | None = None) -> Score:
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
        try:
            return await self._path.score(prompt, continuation, meter_for(budget))
        except CapabilityError:  # the server sent no prompt logprobs: it cannot score, and is remembered so
            self._learn(prompt_logprobs=False)
            raise

    def score(self, prompt: str, continuation: str, *, budget: Budget | Meter | None = None) -> Score:
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


def _prompt_bound(messages: list[dict[str, Any]]) -> int | None:
    """At least the tokens of ``messages`` (the UTF-8 bytes of their texts, 8 per message for the
    chat template's markers, 8 more for the reply's start); None for contents that are not text."""
    total = 8
    for m in messages:
        content = m.get("content")
        if not isinstance(content, str):
            return None
        total += len(content.encode("utf-8")) + 8
    return total
