"""The LLM client: one object per model, async first, with budget, cache, retries, usage and trace.

Every request takes one path: validate -> reserve budget -> cache lookup ->
litellm (with retries on transient errors) -> settle budget -> cache store ->
trace. In-process models (``local/...``, the test fake) are litellm custom
providers, so they take the same path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlparse

from .._sync import run_sync
from ..budget import Budget, Reservation
from ..errors import (
    AuthError,
    BudgetExhausted,
    CapabilityError,
    ConfigError,
    LLMError,
    MalformedResponseError,
    ReasonersError,
)
from ..problem import FailedSample
from ..trace import span
from ..usage import Usage
from .cache import Cache, InFlight, cache_key, cached_score, lookup
from .convert import convert_error, describe, litellm
from .providers import PROVIDER, InProcessModel, register
from .retry import RetryPolicy
from .types import UNSET, Capabilities, Completion, Score, TokenLogprob

__all__ = ["LLM"]

log = logging.getLogger(__name__)

Messages = list[dict[str, Any]]


def _to_messages(prompt: str | Sequence[Mapping[str, Any]]) -> Messages:
    if isinstance(prompt, str):
        if not prompt.strip():
            raise ConfigError("prompt is empty")
        return [{"role": "user", "content": prompt}]
    messages = [dict(m) for m in prompt]
    if not messages:
        raise ConfigError("messages is empty")
    for i, m in enumerate(messages):
        if m.get("role") not in ("system", "user", "assistant", "tool") or not isinstance(m.get("content"), str):
            raise ConfigError(f"messages[{i}] needs a role (system/user/assistant) and string content; got {m!r}")
    return messages


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


class LLM:
    """A language model behind litellm, with the toolkit's budget, cache, retries and trace.

    ``model`` is any litellm model string (``"openai/gpt-4o-mini"``, ``"openai/x"`` with
    ``api_base=`` for an OpenAI-compatible server such as llama.cpp or vLLM) or
    ``"local/smollm2"`` / ``"local/<file.gguf>"`` for the embedded llama.cpp model.

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
        self._api_key = api_key
        self.defaults: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens, "top_p": top_p}
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self.cache = cache
        self._capability_override = capabilities
        self._backend = backend
        self.score_prefix = score_prefix
        self._extra = litellm_kwargs
        self._resolved: tuple[str, Capabilities] | None = None
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._prices: tuple[float, float] | None = None
        self._in_flight = InFlight()
        self._prompt_margin = 0
        self._token_counts: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"LLM({self.model!r}" + (f", api_base={self.api_base!r})" if self.api_base else ")")

    # -- resolution ----------------------------------------------------------------------

    def _resolve(self) -> tuple[str, Capabilities]:
        """The litellm model string and capabilities; loads local models and checks keys on first use."""
        if self._resolved is not None:
            return self._resolved
        if self._backend is None and self.model.startswith("local/"):
            from .local import load_local

            self._backend = load_local(self.model[len("local/") :])
        if self._backend is not None:
            lm_model = register(f"{id(self._backend):x}", self._backend)
            caps = self._backend.capabilities
        else:
            lm_model, caps = self.model, self._detect_capabilities()
        self._resolved = (lm_model, caps.merged(self._capability_override))
        return self._resolved

    def _detect_capabilities(self) -> Capabilities:
        lm = litellm()
        try:
            _, provider, _, _ = lm.get_llm_provider(self.model, api_base=self.api_base)
        except Exception as e:
            raise ConfigError(
                f"unknown model {self.model!r}: give a litellm model string such as 'openai/gpt-4o-mini', "
                "'openai/<name>' with api_base=... for an OpenAI-compatible server, or 'local/smollm2'"
            ) from e
        if self._api_key is None and self.api_base is None:
            env = lm.validate_environment(model=self.model)
            missing = env.get("missing_keys") or []
            if missing:
                raise AuthError(f"{self.model}: missing API key; set {', '.join(missing)} or pass api_key=...")
            variable = f"{provider.upper()}_API_KEY"
            if variable in os.environ and not os.environ[variable].strip():
                raise AuthError(f"{self.model}: {variable} is set but empty; set it to your key")
        try:
            params = set(lm.get_supported_openai_params(model=self.model, custom_llm_provider=provider) or [])
        except Exception:
            params = set()
        server = self.api_base is not None
        return Capabilities(
            # OpenAI-compatible servers vary: probe n on first use (a short answer falls back).
            n=None if server else ("n" in params),
            logprobs="logprobs" in params or None,
            prompt_logprobs=None if server else False,
            seed="seed" in params,
        )

    @property
    def capabilities(self) -> Capabilities:
        """What this model can do (detected, then overridden by ``capabilities=``)."""
        return self._resolve()[1]

    def count_tokens(self, prompt: str | Sequence[Mapping[str, Any]]) -> int:
        """Prompt tokens as reserved against a budget (exact for in-process models)."""
        messages = _to_messages(prompt)
        self._resolve()
        key = json.dumps(messages, sort_keys=True)
        count = self._token_counts.get(key)
        if count is None:
            if self._backend is not None:
                count = self._backend.count_tokens(messages)
            else:
                count = int(litellm().token_counter(model=self.model, messages=messages))
            if len(self._token_counts) > 4096:  # strategies resend the same prompts; keep recent ones
                self._token_counts.clear()
            self._token_counts[key] = count
        return count

    def _price(self) -> tuple[float, float]:
        if self._prices is None:
            info: Mapping[str, Any] = {}
            if self._backend is None:
                cost_map = litellm().model_cost
                info = cost_map.get(self.model) or cost_map.get(self.model.split("/", 1)[-1]) or {}
            self._prices = (
                float(info.get("input_cost_per_token") or 0.0),
                float(info.get("output_cost_per_token") or 0.0),
            )
        return self._prices

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return sem

    # -- generation ----------------------------------------------------------------------

    async def agenerate(
        self,
        prompt: str | Sequence[Mapping[str, Any]],
        *,
        n: int = 1,
        temperature: float = UNSET,
        max_tokens: int = UNSET,
        top_p: float | None = UNSET,
        stop: str | list[str] | None = UNSET,
        logprobs: bool = False,
        seed: int | None = UNSET,
        budget: Budget | None = None,
        failed: list[FailedSample] | None = None,
    ) -> list[Completion]:
        """Sample ``n`` completions of ``prompt`` (a string or chat messages).

        Options not given take the client's defaults. Samples are sent as one
        request where the backend supports ``n``, else as concurrent single
        requests with distinct seeds (``seed + i``). Each sample is cached under
        its own index, so reruns replay exactly. Raises :class:`BudgetExhausted`
        when ``budget`` cannot fit even one sample; fewer than ``n`` completions
        come back only if the budget ran out part-way (check ``len``) or, when
        ``failed`` is given, if some single requests still failed after their
        retries: those are appended to ``failed`` and left out, and the call
        raises only when no sample succeeded. Without ``failed`` any failure raises.
        """
        messages = _to_messages(prompt)
        if not isinstance(n, int) or n < 1:
            raise ConfigError(f"n must be a positive integer; got {n!r}")
        params = dict(self.defaults)
        for name, value in (
            ("temperature", temperature),
            ("max_tokens", max_tokens),
            ("top_p", top_p),
            ("stop", stop),
            ("seed", seed),
        ):
            if value is not UNSET:
                params[name] = value
        if params["max_tokens"] is None or int(params["max_tokens"]) < 1:
            raise ConfigError(f"max_tokens must be >= 1; got {params['max_tokens']!r}")
        if params["temperature"] is None or float(params["temperature"]) < 0:
            raise ConfigError(f"temperature must be >= 0; got {params['temperature']!r}")
        if isinstance(params.get("stop"), str):
            params["stop"] = [params["stop"]]
        lm_model, caps = self._resolve()
        if logprobs:
            if caps.logprobs is False:
                raise CapabilityError(
                    f"{self.model} does not return token logprobs; use a strategy option that does not need them "
                    "(e.g. majority instead of weighted vote)"
                )
            params["logprobs"] = True
            if self.api_base:
                params["top_logprobs"] = 1  # llama.cpp's server returns no logprobs without it
        params = {k: v for k, v in params.items() if v is not None}
        if not caps.seed:
            params.pop("seed", None)
        budget = budget if budget is not None else Budget()
        prompt_tokens = self.count_tokens(messages)

        if n > 1 and caps.n is not False:
            done = await self._request(lm_model, messages, params, list(range(n)), prompt_tokens, budget, native=True)
            if caps.n is None:  # first multi-sample request doubles as the probe for `n`
                self._resolved = (lm_model, caps.merged({"n": len(done) == n}))
            if len(done) == n or caps.n is True or not done:
                return done
            start = len(done)  # the server returned fewer choices than asked: it has no `n`
        else:
            done, start = [], 0

        refused: list[BudgetExhausted] = []
        errors: list[FailedSample] = []

        async def one(i: int) -> Completion | None:
            p = _alone(params, i) if "seed" in params or (caps.seed and n > 1) else params
            try:
                out = await self._request(lm_model, messages, p, [i], prompt_tokens, budget)
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
        lm_model: str,
        messages: Messages,
        params: dict[str, Any],
        indices: list[int],
        prompt_tokens: int,
        budget: Budget,
        *,
        native: bool = False,
    ) -> list[Completion]:
        """The samples ``indices`` of one request: from the cache, from an identical call
        already in flight, or fetched (see :meth:`_fetch`); ``native`` marks an ``n`` request."""
        async with self._semaphore():
            prompt_price, completion_price = self._price()
            reservation = await budget.areserve(
                prompt_tokens=prompt_tokens + self._prompt_margin,
                max_tokens=int(params["max_tokens"]),
                n=len(indices),
                prompt_price=prompt_price,
                completion_price=completion_price,
            )
            asked = int(params["max_tokens"])
            params = {**params, "max_tokens": reservation.max_tokens}
            request = {"messages": messages, **params}
            keys, got = lookup(self.cache, self._cache_model(), request, indices, asked)
            missing = [i for i in indices if i not in got]
            with span("llm", self.model, request=request, samples=indices) as s:
                t0 = time.perf_counter()
                attempts = 0
                try:
                    while missing:  # again only for samples whose shared call failed
                        shared, own = self._in_flight.claim(keys, missing, share=self.cache is not None)
                        fetch = self._fetch(lm_model, messages, params, own, keys, prompt_tokens, reservation,
                                            native=native)
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

    async def _fetch(
        self,
        lm_model: str,
        messages: Messages,
        params: dict[str, Any],
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
            if native and "seed" in params and indices != list(range(len(indices))):
                sent = await asyncio.gather(*(
                    self._send(lm_model, messages, _alone(params, i), 1, reservation)
                    for i in indices
                ))
                fresh, attempts = [c for cs, _ in sent for c in cs], sum(a for _, a in sent)
            else:
                fresh, attempts = await self._send(lm_model, messages, params, len(indices), reservation)
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

    def _request_key(self) -> str | None:
        """The key to send, for generation and prompt scoring alike: the one given, else none (litellm
        reads the provider's variable), else, for an OpenAI-compatible server of one's own, a
        placeholder: such servers often check no key, but the SDK insists on one, and a server
        that does check answers 401, an AuthError."""
        if self._api_key:
            return self._api_key
        if self.api_base and self.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY", "").strip():
            return "no-key"
        return None

    def _cache_model(self) -> str:
        return f"{self.model}@{self.api_base}" if self.api_base else self.model

    async def _send(
        self, lm_model: str, messages: Messages, params: dict[str, Any], n: int, reservation: Reservation
    ) -> tuple[list[Completion], int]:
        """The transport call with retries. Returns completions and the number of attempts."""
        lm = litellm()
        kwargs: dict[str, Any] = {
            **self._extra,
            "model": lm_model,
            "messages": messages,
            **params,
            "num_retries": 0,
        }
        if not lm_model.startswith(PROVIDER + "/"):
            kwargs["max_retries"] = 0  # the OpenAI SDK's own retries would hide attempts from ours
        if n > 1:
            kwargs["n"] = n
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if (key := self._request_key()) is not None:
            kwargs["api_key"] = key
        attempts = 0
        async for attempt in self.retry.retrying():
            with attempt:
                attempts += 1
                kwargs["timeout"] = reservation.timeout(self.timeout)
                try:
                    response = await lm.acompletion(**kwargs)
                except ReasonersError:
                    raise
                except Exception as e:
                    err = convert_error(e, self.model, (self._api_key,))
                    log.debug("attempt %d on %s failed: %s", attempts, self.model, describe(err))
                    raise err from e
                completions = self._parse(response)
        return completions, attempts

    def _parse(self, response: Any) -> list[Completion]:
        choices = _get(response, "choices")
        if not choices:
            raise MalformedResponseError(f"{self.model}: response has no choices", model=self.model)
        raw_usage = _get(response, "usage") or {}
        prompt_tokens = int(_get(raw_usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(_get(raw_usage, "completion_tokens", 0) or 0)
        prompt_price, completion_price = self._price()
        out = []
        texts = []
        for choice in choices:
            message = _get(choice, "message")
            text = _get(message, "content") if message is not None else _get(choice, "text")
            texts.append(text or "")
            lp = _get(choice, "logprobs")
            content = _get(lp, "content") if lp is not None else None
            logprobs = (
                [TokenLogprob(str(_get(t, "token")), float(_get(t, "logprob"))) for t in content]
                if content
                else None
            )
            out.append(Completion(text=text or "", finish_reason=_get(choice, "finish_reason"), logprobs=logprobs,
                                  model=self.model))
        # Usage comes per request; split it over the samples so that each cached sample
        # carries its share and the shares add up to the request's usage exactly.
        shares = _split(completion_tokens, [max(1, len(t)) for t in texts])
        for k, c in enumerate(out):
            first = k == 0
            c.usage = Usage(
                prompt_tokens=prompt_tokens if first else 0,
                completion_tokens=shares[k],
                calls=1 if first else 0,
                cost=(prompt_tokens * prompt_price if first else 0.0) + shares[k] * completion_price,
            )
        return out

    def generate(
        self,
        prompt: str | Sequence[Mapping[str, Any]],
        *,
        n: int = 1,
        temperature: float = UNSET,
        max_tokens: int = UNSET,
        top_p: float | None = UNSET,
        stop: str | list[str] | None = UNSET,
        logprobs: bool = False,
        seed: int | None = UNSET,
        budget: Budget | None = None,
        failed: list[FailedSample] | None = None,
    ) -> list[Completion]:
        """Sync twin of :meth:`agenerate`."""
        return run_sync(
            self.agenerate(
                prompt,
                n=n,
                temperature=temperature,
                max_tokens=max_tokens,
                top_p=top_p,
                stop=stop,
                logprobs=logprobs,
                seed=seed,
                budget=budget,
                failed=failed,
            ),
            async_name="agenerate",
        )

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
        lm_model, caps = self._resolve()
        if caps.prompt_logprobs is False:
            raise CapabilityError(
                f"{self.model} cannot score prompt tokens. Use an in-process model ('local/...'), an "
                "OpenAI-compatible server that echoes prompt logprobs (llama.cpp, vLLM) via api_base, "
                "or a scorer that does not need them (LLMJudge, MeanLogprob)"
            )
        budget = budget if budget is not None else Budget()
        n_tokens = (
            self._backend.count_tokens([{"role": "user", "content": prompt + continuation}])
            if self._backend is not None
            else int(litellm().token_counter(model=self.model, text=prompt + continuation))
        )
        async with self._semaphore():
            reservation = await budget.areserve(prompt_tokens=n_tokens, max_tokens=1, prompt_price=self._price()[0])
            key = cache_key("score", self._cache_model(), {"prompt": prompt, "continuation": continuation})
            with span("score", self.model, prompt=prompt, continuation=continuation) as s:
                hit = cached_score(self.cache, key) if self.cache is not None else None
                result: Score
                if hit is not None:
                    result = hit
                    result.cached, result.usage.cache_hits = True, 1
                else:
                    try:
                        result = await self._score_backend(lm_model, prompt, continuation, reservation)
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

    async def _score_backend(
        self, lm_model: str, prompt: str, continuation: str, reservation: Reservation
    ) -> Score:
        if self._backend is not None:
            return await self._backend.score(prompt, continuation)
        from .echo import score_by_echo

        async for attempt in self.retry.retrying():
            with attempt:
                result = await score_by_echo(self, prompt, continuation, reservation.timeout(self.timeout))
        if not result.logprobs:
            self._resolved = (lm_model, self._resolved[1].merged({"prompt_logprobs": False}))  # type: ignore[index]
            raise CapabilityError(f"{self.model}: the server returned no prompt logprobs; it cannot score text")
        return result

    def score(self, prompt: str, continuation: str, *, budget: Budget | None = None) -> Score:
        """Sync twin of :meth:`ascore`."""
        return run_sync(self.ascore(prompt, continuation, budget=budget), async_name="ascore")

    # -- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        if self.cache is not None:
            self.cache.close()

    async def __aenter__(self) -> LLM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _alone(params: dict[str, Any], i: int) -> dict[str, Any]:
    """``params`` for sample ``i`` sent as its own request: seed ``seed + i`` (``i`` when none was given),
    so the samples of an ``n`` request sent one by one differ and replay."""
    return {**params, "seed": int(params.get("seed") or 0) + i}


def _split(total: int, weights: list[int]) -> list[int]:
    """Integers proportional to ``weights`` that add up to ``total`` exactly."""
    if not weights:
        return []
    s = sum(weights)
    shares = [total * w // s for w in weights]
    shares[0] += total - sum(shares)
    return shares


def _sum_usage(completions: Any) -> Usage:
    total = Usage()
    for c in completions:
        total = total + c.usage
    return total

