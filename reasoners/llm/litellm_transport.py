"""The litellm transport: every provider litellm knows, echo scoring included.

It also resolves what litellm knows of a model (provider, keys, supported
parameters, token counting, prices), which the lean OpenAI transport reuses.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..core.errors import AuthError, ConfigError, MalformedResponseError, ReasonersError
from .convert import convert_error, litellm
from .echo import EchoRequest, echo_score
from .options import SamplingOptions
from .confidence import GroupWatch, StopBelow
from .reasoning import ReasoningDelta, provider_fields
from .transport import Choice, Messages, Reply, Transport, request_key
from .types import Capabilities, Score, TokenLogprob

__all__ = ["LiteLLMTransport", "parse_reply", "stream_reply"]


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def parse_reply(response: Any, model: str) -> Reply:
    """A chat-completion response (litellm's or the openai SDK's objects, or plain dicts) as a Reply."""
    choices = _get(response, "choices")
    if not choices:
        raise MalformedResponseError(f"{model}: response has no choices", model=model)
    out = []
    for choice in choices:
        message = _get(choice, "message")
        text = _get(message, "content") if message is not None else _get(choice, "text")
        lp = _get(choice, "logprobs")
        content = _get(lp, "content") if lp is not None else None
        logprobs = [_token(t) for t in content] if content else None
        out.append(Choice(text or "", _get(choice, "finish_reason"), logprobs,
                          _reasoning(message) if message is not None else None))
    return Reply(out, *_usage(_get(response, "usage")))


def _token(entry: Any) -> TokenLogprob:
    """One entry of a chat response's ``logprobs.content``, with its ``top_logprobs`` when sent."""
    top = _get(entry, "top_logprobs")
    return TokenLogprob(str(_get(entry, "token")), float(_get(entry, "logprob")),
                        [float(_get(t, "logprob")) for t in top] if top else None)


def _reasoning(message: Any) -> str | None:
    """The thinking a message carries in a field of its own: ``reasoning_content`` (DeepSeek, vLLM,
    llama.cpp, litellm's normalised field), ``reasoning`` (OpenRouter, Ollama), or Anthropic's
    thinking blocks (through litellm)."""
    for name in ("reasoning_content", "reasoning"):
        value = _get(message, name)
        if isinstance(value, str) and value:
            return value
    blocks = _get(message, "thinking_blocks") or []
    text = "\n\n".join(str(_get(b, "thinking") or "") for b in blocks if _get(b, "thinking"))
    return text or None


def _usage(raw: Any) -> tuple[int, int, int]:
    """(prompt, completion, reasoning) tokens as charged. Thinking is charged however the provider
    reports it: inside ``completion_tokens`` (OpenAI: ``completion_tokens_details.reasoning_tokens``
    is then a part of it), beside it (a reasoning count larger than the completion count), or only
    in a ``total_tokens`` larger than prompt + completion (the difference is thinking)."""
    raw = raw or {}
    details = _get(raw, "completion_tokens_details")
    reasoning = int((_get(details, "reasoning_tokens", 0) if details is not None else 0) or 0)
    reasoning = reasoning or int(_get(raw, "reasoning_tokens", 0) or 0)
    prompt = int(_get(raw, "prompt_tokens", 0) or 0)
    completion = int(_get(raw, "completion_tokens", 0) or 0)
    if reasoning > completion:  # reported apart from the answer's tokens
        completion += reasoning
    total = int(_get(raw, "total_tokens", 0) or 0)
    if total > prompt + completion:  # only the total knows of the thinking
        reasoning = max(reasoning, total - prompt - completion)
        completion = total - prompt
    return prompt, completion, reasoning


class LiteLLMTransport(Transport):
    """A model string litellm resolves (``openai/gpt-4o-mini``, ``anthropic/...``, ``openai/x`` with
    ``api_base``); ``extra`` are litellm arguments sent with every request."""

    def __init__(
        self, model: str, *, api_base: str | None = None, api_key: str | None = None,
        extra: Mapping[str, Any] | None = None, score_prefix: str = "",
    ) -> None:
        self.model = model
        self.api_base = api_base
        self._api_key = api_key
        self.extra = dict(extra or {})
        self.score_prefix = score_prefix
        self._prices: tuple[float, float] | None = None

    def _key(self) -> str | None:
        return request_key(self._api_key, self.api_base, self.model)

    def _error(self, e: Exception) -> ReasonersError:
        return convert_error(e, self.model, (self._api_key,))

    # -- what litellm knows of the model ----------------------------------------------------

    def capabilities(self) -> Capabilities:
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
        try:
            thinks: bool | None = None if server else bool(lm.supports_reasoning(model=self.model))
        except Exception:
            thinks = None
        return Capabilities(
            thinks=thinks,
            # OpenAI-compatible servers vary: probe n on first use (a short answer falls back).
            n=None if server else ("n" in params),
            logprobs="logprobs" in params or None,
            prompt_logprobs=None if server else False,
            seed="seed" in params,
        )

    def count_tokens(self, messages: Messages) -> int:
        return int(litellm().token_counter(model=self.model, messages=messages))

    def count_text(self, text: str) -> int:
        return int(litellm().token_counter(model=self.model, text=text))

    def prices(self) -> tuple[float, float]:
        if self._prices is None:
            cost_map = litellm().model_cost
            info = cost_map.get(self.model) or cost_map.get(self.model.split("/", 1)[-1]) or {}
            self._prices = (float(info.get("input_cost_per_token") or 0.0),
                            float(info.get("output_cost_per_token") or 0.0))
        return self._prices

    # -- requests -----------------------------------------------------------------------------

    def _kwargs(self, messages: Messages, options: SamplingOptions, n: int, timeout: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {**self.extra, "model": self.model, "messages": messages,
                                  **provider_fields(options.params(), self.model, self.api_base),
                                  "num_retries": 0, "max_retries": 0, "timeout": timeout}
        # (max_retries=0: the OpenAI SDK's own retries would hide attempts from ours)
        if n > 1:
            kwargs["n"] = n
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if (key := self._key()) is not None:
            kwargs["api_key"] = key
        return kwargs

    async def _send(self, messages: Messages, options: SamplingOptions, n: int, timeout: float,
                    **extra: Any) -> Any:
        """The SDK call of one chat request (``extra``: ``stream=True`` and its options)."""
        return await litellm().acompletion(**self._kwargs(messages, options, n, timeout), **extra)

    async def complete(self, messages: Messages, options: SamplingOptions, *, n: int, timeout: float) -> Reply:
        if options.stop_below is not None:
            return await self._complete_watched(messages, options, timeout)
        try:
            response = await self._send(messages, options, n, timeout)
        except ReasonersError:
            raise
        except Exception as e:
            raise self._error(e) from e
        return parse_reply(response, self.model)

    async def stream(
        self, messages: Messages, options: SamplingOptions, *, timeout: float
    ) -> AsyncIterator[str | ReasoningDelta | Reply]:
        try:
            chunks = await self._send(messages, options, 1, timeout, stream=True,
                                      stream_options={"include_usage": True})
            async for item in stream_reply(chunks):
                yield self._counted(item, messages) if isinstance(item, Reply) else item
        except ReasonersError:
            raise
        except Exception as e:
            raise self._error(e) from e

    async def _complete_watched(self, messages: Messages, options: SamplingOptions, timeout: float) -> Reply:
        """One sample streamed with its logprobs, closed the moment its group confidence falls below
        ``options.stop_below`` (DeepConf's online cut); a cut reply has ``finish_reason ==
        "confidence"`` and is charged the tokens that arrived."""
        assert options.stop_below is not None
        watch = GroupWatch(StopBelow(*options.stop_below))
        options = options.merged(logprobs=True, top_logprobs=options.top_logprobs or 1)
        reply: Reply | None = None
        seen = 0
        try:
            chunks = await self._send(messages, options, 1, timeout, stream=True,
                                      stream_options={"include_usage": True})
            building = Reply([Choice("")])
            replies = stream_reply(chunks, building)
            try:
                async for item in replies:
                    if isinstance(item, Reply):
                        reply = item
                        break
                    tokens = building.choices[0].logprobs or []
                    cut = any(watch.add(t) for t in tokens[seen:])
                    seen = len(tokens)
                    if cut:
                        reply = building
                        reply.choices[0].finish_reason = "confidence"
                        break
            finally:
                await replies.aclose()  # type: ignore[attr-defined]  # closes the HTTP stream: the server stops
                close = getattr(chunks, "aclose", None) or getattr(chunks, "close", None)
                if close is not None:
                    with contextlib.suppress(Exception):
                        result = close()
                        if inspect.isawaitable(result):
                            await result
        except ReasonersError:
            raise
        except Exception as e:
            raise self._error(e) from e
        assert reply is not None
        if reply.choices[0].finish_reason == "confidence" or not reply.completion_tokens:
            reply.prompt_tokens = reply.prompt_tokens or self.count_tokens(messages)
            reply.completion_tokens = max(len(reply.choices[0].logprobs or []),
                                          self.count_text(reply.choices[0].text) if reply.choices[0].text else 0)
        return reply

    def _counted(self, reply: Reply, messages: Messages) -> Reply:
        """A streamed reply with its usage counted here when the server sent none (llama.cpp's
        server sends no usage chunk), so that a stream is never free for the budget."""
        if not reply.prompt_tokens and not reply.completion_tokens:
            text = reply.choices[0].text + (reply.choices[0].reasoning or "")
            reply.prompt_tokens = self.count_tokens(messages)
            reply.completion_tokens = self.count_text(text) if text else 0
            reply.extra["usage_counted"] = True
        return reply

    async def score(self, prompt: str, continuation: str, *, timeout: float) -> Score:
        req = EchoRequest(prompt, continuation, self.score_prefix)
        kwargs: dict[str, Any] = {
            "model": f"text-completion-openai/{self.model.split('/', 1)[-1]}", "prompt": req.text, **req.fields,
            "num_retries": 0, "max_retries": 0, "timeout": timeout, "api_base": self.api_base,
        }
        if (key := self._key()) is not None:
            kwargs["api_key"] = key
        try:
            response = await litellm().atext_completion(**kwargs)
        except ReasonersError:
            raise
        except Exception as e:
            raise self._error(e) from e
        return echo_score(response, req, self.model)


async def stream_reply(chunks: Any, reply: Reply | None = None) -> AsyncIterator[str | ReasoningDelta | Reply]:
    """The deltas of a chat-completion chunk stream as they come (thinking sent in its own field
    as :class:`ReasoningDelta`), then the whole Reply, built up in ``reply`` when one is given (so a
    caller can read its logprobs as they arrive)."""
    reply = reply if reply is not None else Reply([Choice("")])
    async for chunk in chunks:
        for choice in _get(chunk, "choices") or []:
            delta = _get(choice, "delta")
            thought = _reasoning(delta) if delta is not None else None
            if thought:
                reply.choices[0].reasoning = (reply.choices[0].reasoning or "") + thought
                yield ReasoningDelta(thought)
            text = (_get(delta, "content") or "") if delta is not None else ""
            lp = _get(choice, "logprobs")
            tokens = _get(lp, "content") if lp is not None else None
            if tokens:  # streamed with logprobs: kept with the reply (confidence reads them as they come)
                reply.choices[0].logprobs = (reply.choices[0].logprobs or []) + [_token(t) for t in tokens]
            if text:
                reply.choices[0].text += text
                yield text
            reply.choices[0].finish_reason = _get(choice, "finish_reason") or reply.choices[0].finish_reason
        if _get(chunk, "usage"):
            reply.prompt_tokens, reply.completion_tokens, reply.reasoning_tokens = _usage(_get(chunk, "usage"))
    yield reply
