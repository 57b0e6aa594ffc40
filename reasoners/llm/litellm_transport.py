"""The litellm transport: every provider litellm knows, echo scoring included; and
:class:`LiteLLMInfo`, what litellm knows of a model (provider, keys, supported parameters, token
counting, prices), the model facts of both HTTP transports.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..core.errors import AuthError, ConfigError
from .chat import ChatTransport
from .convert import litellm
from .echo import EchoRequest
from .options import SamplingOptions
from .reasoning import provider_fields
from .transport import Messages, ModelInfo
from .types import Capabilities

__all__ = ["LiteLLMTransport", "LiteLLMInfo"]


class LiteLLMInfo(ModelInfo):
    """What litellm knows of ``model`` (at ``api_base``, if given): checked once, when first asked."""

    def __init__(self, model: str, *, api_base: str | None = None, api_key: str | None = None) -> None:
        self.model = model
        self.api_base = api_base
        self._api_key = api_key
        self._prices: tuple[float, float] | None = None

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



class LiteLLMTransport(ChatTransport):
    """A model string litellm resolves (``openai/gpt-4o-mini``, ``anthropic/...``, ``openai/x`` with
    ``api_base``); ``extra`` are litellm arguments sent with every request."""

    def __init__(
        self, model: str, *, api_base: str | None = None, api_key: str | None = None,
        extra: Mapping[str, Any] | None = None, score_prefix: str = "",
    ) -> None:
        super().__init__(model, api_base=api_base, api_key=api_key, score_prefix=score_prefix)
        self.extra = dict(extra or {})

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

    async def _send_echo(self, request: EchoRequest, timeout: float) -> Any:
        kwargs: dict[str, Any] = {
            "model": f"text-completion-openai/{self.model.split('/', 1)[-1]}", "prompt": request.text,
            **request.fields, "num_retries": 0, "max_retries": 0, "timeout": timeout, "api_base": self.api_base,
        }
        if (key := self._key()) is not None:
            kwargs["api_key"] = key
        return await litellm().atext_completion(**kwargs)
