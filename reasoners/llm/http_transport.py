"""The bare transport for OpenAI-compatible servers (llama.cpp, vLLM, SGLang): plain JSON over a
pooled aiohttp session, no SDK on the request path.

A request is a dict posted to ``{api_base}/chat/completions``; a reply is the JSON read back
(:func:`~reasoners.llm.chat.parse_reply` takes dicts); a stream is the server-sent events read line
by line, closed (the connection dropped, so the server stops) when the caller stops reading. HTTP
failures become the toolkit's errors through the same :func:`~reasoners.llm.convert.convert_error`
as the SDK transports (status, ``Retry-After``, keys redacted), so retries and budgets see the same
thing whichever transport sent. What is known of the model is litellm's, as for
:class:`~reasoners.llm.openai_transport.OpenAITransport`. ``benchmarks/overhead.py`` measures it
against the SDKs and against a bare aiohttp loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..core.errors import APIConnectionError, RequestTimeout
from .chat import ChatTransport
from .echo import EchoRequest
from .options import SamplingOptions
from .reasoning import provider_fields
from .transport import Messages

__all__ = ["HTTPTransport", "HTTPStatusError"]


class HTTPStatusError(Exception):
    """A reply with an HTTP error status, as :func:`~reasoners.llm.convert.convert_error` reads one
    (``status_code``, ``headers``, the server's message)."""

    def __init__(self, status_code: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status_code = status_code
        self.headers = dict(headers)
        super().__init__(f"HTTP {status_code}: {_message(body)}")


def _message(body: bytes) -> str:
    """The server's own error message when it sent one as JSON, else the start of the body."""
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return text[:300]


class HTTPTransport(ChatTransport):
    """``openai/<name>`` at ``api_base``, posted as plain JSON (one aiohttp session per event loop,
    its connections kept alive and shared by every request of that loop)."""

    def __init__(self, model: str, *, api_base: str, api_key: str | None = None, score_prefix: str = "") -> None:
        super().__init__(model, api_base=api_base.rstrip("/"), api_key=api_key, score_prefix=score_prefix)
        self.name = model.split("/", 1)[1]

    @functools.cached_property
    def _proxy(self) -> tuple[Any, Any]:
        return _env_proxy(str(self.api_base))

    def _session(self) -> Any:
        return self._loop_client(self._make_session)

    def _make_session(self) -> Any:
        import aiohttp

        headers = {"Content-Type": "application/json"}
        if key := self._key():
            headers["Authorization"] = f"Bearer {key}"
        # no connection limit of its own: the client's concurrency is the limit; long SSE lines
        # (top logprobs) fit the read buffer
        return aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=0), read_bufsize=2**20)

    async def _post(self, path: str, body: dict[str, Any], timeout: float, *, stream: bool = False) -> Any:
        """POST ``body``; the JSON reply, or with ``stream`` the response left open for its events."""
        import aiohttp

        # as the SDKs time out: connecting, and waiting for the next bytes (a stream may run longer
        # than ``timeout`` while it keeps arriving)
        limits = aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        try:
            proxy, proxy_auth = self._proxy
            resp = await self._session().post(f"{self.api_base}{path}", data=json.dumps(body), timeout=limits, proxy=proxy,
                                      proxy_auth=proxy_auth)
            try:
                if resp.status >= 400:
                    raise HTTPStatusError(resp.status, resp.headers, await resp.read())
                if stream:
                    return resp
                return json.loads(await resp.read())
            finally:
                if not stream or resp.status >= 400:
                    resp.release()
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as e:
            raise RequestTimeout(f"{self.model}: no reply within {timeout:g} s", model=self.model) from e
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as e:
            raise APIConnectionError(f"{self.model}: cannot reach the server: {type(e).__name__}: {e}",
                                     model=self.model) from e

    async def _send(self, messages: Messages, options: SamplingOptions, n: int, timeout: float,
                    **extra: Any) -> Any:
        body: dict[str, Any] = {"model": self.name, "messages": messages,
                                **provider_fields(options.params(), self.model, self.api_base), **extra}
        body.update(body.pop("extra_body", None) or {})  # the SDKs' name for fields sent as they are
        if n > 1:
            body["n"] = n
        if extra.get("stream"):
            return _events(await self._post("/chat/completions", body, timeout, stream=True), self.model)
        return await self._post("/chat/completions", body, timeout)

    async def _send_echo(self, request: EchoRequest, timeout: float) -> Any:
        return await self._post("/completions", {"model": self.name, "prompt": request.text, **request.fields},
                                timeout)


def _env_proxy(url: str) -> tuple[Any, Any]:
    """The proxy (and its credentials) that HTTP(S)_PROXY and NO_PROXY give ``url``, read once per
    transport, as the SDKs read them once per client. (aiohttp's ``trust_env`` would look them and
    ``~/.netrc`` up again in a worker thread on every request: two thread hops, most of a call's CPU.)"""
    from aiohttp.helpers import get_env_proxy_for_url
    from yarl import URL

    try:
        return get_env_proxy_for_url(URL(url))
    except LookupError:  # no proxy for this address
        return None, None


async def _events(resp: Any, model: str) -> AsyncIterator[dict[str, Any]]:
    """The JSON of each ``data:`` event of a server-sent stream, until ``[DONE]``. Stopped early (a
    cut), the connection is dropped rather than returned to the pool: the server sees the client
    go and stops generating."""
    import aiohttp

    finished = False
    try:
        async for line in resp.content:
            if not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                finished = True
                break
            yield json.loads(data)
        finished = True
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as e:
        raise RequestTimeout(f"{model}: the stream stopped arriving in time", model=model) from e
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as e:
        raise APIConnectionError(f"{model}: the stream broke: {type(e).__name__}: {e}", model=model) from e
    finally:
        if finished:
            resp.release()
        else:
            resp.close()
