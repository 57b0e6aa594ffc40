"""The lean transport for OpenAI-compatible servers (llama.cpp, vLLM): the ``openai`` SDK, no litellm
on the request path.

What is known of the model (capabilities, token counting, prices) is litellm's
(:class:`~reasoners.llm.litellm_transport.LiteLLMInfo`, chosen beside this transport), so
budgets reserve exactly as on the litellm path; each request costs the SDK's work alone
(``benchmarks/overhead.py``).
"""

from __future__ import annotations

from typing import Any

from .chat import ChatTransport
from .echo import EchoRequest
from .options import SamplingOptions
from .reasoning import provider_fields
from .transport import Messages

__all__ = ["OpenAITransport"]


class OpenAITransport(ChatTransport):
    """``openai/<name>`` at ``api_base``, sent with the ``openai`` SDK (one client per event loop)."""

    def __init__(self, model: str, *, api_base: str, api_key: str | None = None, score_prefix: str = "") -> None:
        super().__init__(model, api_base=api_base, api_key=api_key, score_prefix=score_prefix)
        self.name = model.split("/", 1)[1]

    def _client(self) -> Any:
        return self._loop_client(self._make_client)

    def _make_client(self) -> Any:
        from openai import AsyncOpenAI, DefaultAsyncHttpxClient

        # max_retries=0: the SDK's own retries would hide attempts from ours. Our own HTTP client:
        # the SDK's default one closes itself on garbage collection by scheduling a task on
        # whatever loop runs then, which fails loudly when its connections belong to a closed one.
        # api_key None: the SDK reads OPENAI_API_KEY, as litellm does (request_key says when that is set)
        return AsyncOpenAI(base_url=self.api_base, api_key=self._key(), max_retries=0,
                           http_client=DefaultAsyncHttpxClient())

    async def _send(self, messages: Messages, options: SamplingOptions, n: int, timeout: float,
                    **extra: Any) -> Any:
        body: dict[str, Any] = {"model": self.name, "messages": messages,
                                **provider_fields(options.params(), self.model, self.api_base), "timeout": timeout,
                                **extra}
        if n > 1:
            body["n"] = n
        return await self._client().chat.completions.create(**body)

    async def _send_echo(self, request: EchoRequest, timeout: float) -> Any:
        return await self._client().completions.create(model=self.name, prompt=request.text, timeout=timeout,
                                                       **request.fields)
