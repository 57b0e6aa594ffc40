"""Which transport a model gets, and what is known of it: decided here, once, when the
:class:`~reasoners.llm.LLM` is made."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.errors import ConfigError
from .http_transport import HTTPTransport
from .inprocess import InProcessInfo, InProcessModel, InProcessTransport
from .litellm_transport import LiteLLMInfo, LiteLLMTransport
from .openai_transport import OpenAITransport
from .transport import ModelInfo, Transport

__all__ = ["choose_transport", "TRANSPORTS"]

TRANSPORTS = ("http", "openai", "litellm")


def choose_transport(
    model: str,
    *,
    api_base: str | None,
    api_key: str | None,
    transport: str | Transport | InProcessModel | None,
    info: ModelInfo | None,
    extra: Mapping[str, Any],
    score_prefix: str,
) -> tuple[Transport, ModelInfo]:
    """The transport for a model and what is known of it: the only place this is decided.

    ``transport`` is the one way to inject: an :class:`InProcessModel` (the fakes, a LangChain
    chat model) or a ``local/`` model runs in this process; ``openai/<name>`` on an ``api_base``
    server with no litellm-only arguments takes the bare HTTP transport (plain JSON over aiohttp,
    measured in ``benchmarks/overhead.py``); everything else goes through litellm. ``"http"``,
    ``"openai"`` (the ``openai`` SDK) or ``"litellm"`` forces one of the HTTP transports; a
    :class:`Transport` instance is used as is. ``info`` overrides what is known of the model (by default: the in-process model's own
    word, else litellm's).
    """
    if isinstance(transport, InProcessModel) or (transport is None and model.startswith("local/")):
        local = _in_process(model, transport)
        return local, info or InProcessInfo(local)
    if isinstance(transport, Transport):  # one's own (a cache-only replay): the model known as usual
        if info is None and model.startswith("local/"):
            info = InProcessInfo(_in_process(model, None))
        return transport, info or LiteLLMInfo(model, api_base=api_base, api_key=api_key)
    facts = info or LiteLLMInfo(model, api_base=api_base, api_key=api_key)
    if transport is not None and transport not in TRANSPORTS:
        raise ConfigError(f"transport must be one of {', '.join(TRANSPORTS)}, a Transport or an in-process model; "
                          f"got {transport!r}")
    if model.startswith("local/"):
        raise ConfigError(f"{model} runs in this process; transport={transport!r} applies to HTTP backends only")
    lean = api_base is not None and model.startswith("openai/") and not extra
    if transport in ("http", "openai") or (transport is None and lean):
        if api_base is None or not model.startswith("openai/") or extra:
            raise ConfigError(f"the {transport or 'http'} transport needs an 'openai/<name>' model, api_base=..., "
                              "and no litellm-only arguments")
        kind = OpenAITransport if transport == "openai" else HTTPTransport
        return kind(model, api_base=api_base, api_key=api_key, score_prefix=score_prefix), facts
    return LiteLLMTransport(model, api_base=api_base, api_key=api_key, extra=extra, score_prefix=score_prefix), facts


def _in_process(model: str, backend: InProcessModel | None) -> InProcessTransport:
    """The transport of an in-process model: ``backend``, or the ``local/`` model, loaded on first use."""
    loader: Callable[[], InProcessModel] | None = None
    if backend is None:
        name = model[len("local/"):]

        def loader() -> InProcessModel:
            from .local import load_local

            return load_local(name)

    return InProcessTransport(model, backend=backend, loader=loader)
