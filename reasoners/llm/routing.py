"""Which transport a model gets: decided here, once, when the :class:`~reasoners.llm.LLM` is made."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.errors import ConfigError
from .inprocess import InProcessModel, InProcessTransport
from .litellm_transport import LiteLLMTransport
from .openai_transport import OpenAITransport
from .transport import Transport

__all__ = ["choose_transport", "TRANSPORTS"]

TRANSPORTS = ("litellm", "openai")


def choose_transport(
    model: str,
    *,
    api_base: str | None,
    api_key: str | None,
    backend: InProcessModel | None,
    transport: str | Transport | None,
    extra: Mapping[str, Any],
    score_prefix: str,
) -> Transport:
    """The transport for a model: the only place this is decided.

    An in-process ``backend`` or a ``local/`` model runs in this process; ``openai/<name>`` on an
    ``api_base`` server with no litellm-only arguments takes the lean OpenAI transport (measured in
    ``benchmarks/overhead.py``); everything else goes through litellm. ``transport="litellm"`` or
    ``"openai"`` forces one of the two HTTP transports; a :class:`Transport` instance is used as is.
    """
    if isinstance(transport, Transport):
        return transport
    if transport is not None and transport not in TRANSPORTS:
        raise ConfigError(f"transport must be one of {', '.join(TRANSPORTS)} or a Transport; got {transport!r}")
    if backend is not None or model.startswith("local/"):
        if transport is not None:
            raise ConfigError(f"{model} runs in this process; transport={transport!r} applies to HTTP backends only")
        loader: Callable[[], InProcessModel] | None = None
        if backend is None:
            name = model[len("local/"):]

            def loader() -> InProcessModel:
                from .local import load_local

                return load_local(name)

        return InProcessTransport(model, backend=backend, loader=loader)
    lean = api_base is not None and model.startswith("openai/") and not extra
    if transport == "openai" or (transport is None and lean):
        if api_base is None or not model.startswith("openai/") or extra:
            raise ConfigError("the openai transport needs an 'openai/<name>' model, api_base=..., and no "
                              "litellm-only arguments")
        return OpenAITransport(model, api_base=api_base, api_key=api_key, score_prefix=score_prefix)
    return LiteLLMTransport(model, api_base=api_base, api_key=api_key, extra=extra, score_prefix=score_prefix)
