"""The chat-completions wire shape both HTTP transports speak (litellm's objects, the openai SDK's,
or plain dicts): replies and streams parsed into :class:`Reply`, and :class:`ChatTransport`, the
request logic they share (whole, streamed, or streamed and cut by confidence, and prompt scoring
by echo). A subclass says only how one chat request is sent (``_send``) and how one echo
completion is (``_send_echo``); one whose client holds connections makes it per event loop
through ``_loop_client``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import weakref
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from ..core.errors import MalformedResponseError, ReasonersError
from ..core.sync import close_with_loop
from .confidence import GroupWatch, StopBelow
from .convert import convert_error
from .echo import EchoRequest, echo_score
from .options import SamplingOptions
from .reasoning import ReasoningDelta
from .transport import Choice, Messages, Reply, Transport, request_key
from .types import Score, TokenLogprob

__all__ = ["ChatTransport", "parse_reply", "stream_reply"]


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


class ChatTransport(Transport):
    """A model behind an OpenAI-style chat-completions endpoint. ``model`` as the client names it,
    ``api_base`` the server (None: the provider's own), ``api_key`` the key to send."""

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None,
                 score_prefix: str = "") -> None:
        self.model = model
        self.api_base = api_base
        self._api_key = api_key
        self.score_prefix = score_prefix
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()

    def _loop_client(self, make: Callable[[], Any]) -> Any:
        """This event loop's client (``make()`` on first use): its connections are bound to the
        loop, so each loop has its own, closed when the loop ends (or by :meth:`aclose`)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = make()
            close_with_loop(self.aclose)
        return client

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    def _key(self) -> str | None:
        return request_key(self._api_key, self.api_base, self.model)

    def _error(self, e: Exception) -> ReasonersError:
        return convert_error(e, self.model, (self._api_key,))

    @abstractmethod
    async def _send(self, messages: Messages, options: SamplingOptions, n: int, timeout: float,
                    **extra: Any) -> Any:
        """The SDK call of one chat request (``extra``: ``stream=True`` and its options)."""

    @abstractmethod
    async def _send_echo(self, request: EchoRequest, timeout: float) -> Any:
        """The SDK call of one text completion echoing ``request.text`` with its logprobs."""

    async def score(self, prompt: str, continuation: str, *, timeout: float) -> Score:
        req = EchoRequest(prompt, continuation, self.score_prefix)
        try:
            response = await self._send_echo(req, timeout)
        except ReasonersError:
            raise
        except Exception as e:
            raise self._error(e) from e
        return echo_score(response, req, self.model)

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
                yield item
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
            # a cut stream carries no usage: the tokens that arrived, at least (the call path counts the text too)
            reply.completion_tokens = max(reply.completion_tokens, len(reply.choices[0].logprobs or []))
            reply.extra["partial_usage"] = True
        return reply

