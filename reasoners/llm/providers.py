"""In-process models (the embedded llama.cpp model, the test fake) behind litellm's custom-provider hook.

Both are reached as ``reasoners/<key>`` litellm models, so they take exactly
the path API models take: budget, cache, retries, trace and error conversion
all live in :class:`reasoners.llm.LLM`, not here.
"""

from __future__ import annotations

import threading
import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from .convert import litellm
from .types import Capabilities, Score, TokenLogprob

__all__ = ["InProcessModel", "RawCompletion", "register", "lookup", "PROVIDER"]

PROVIDER = "reasoners"


@dataclass
class RawCompletion:
    """What an in-process model returns for one sample."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    logprobs: list[TokenLogprob] | None = None


class InProcessModel(ABC):
    """A model that runs inside this process. One sample per call: the client emulates ``n``."""

    capabilities = Capabilities(n=False, logprobs=True, prompt_logprobs=True, seed=True)

    @abstractmethod
    def count_tokens(self, messages: list[dict[str, Any]]) -> int:
        """Exact prompt token count for ``messages`` (used to reserve budget)."""

    @abstractmethod
    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int,
        temperature: float,
        top_p: float | None,
        stop: list[str] | None,
        logprobs: bool,
        seed: int | None,
    ) -> RawCompletion: ...

    @abstractmethod
    async def score(self, prompt: str, continuation: str) -> Score: ...


_registry: weakref.WeakValueDictionary[str, InProcessModel] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()
_installed = False


def register(key: str, model: InProcessModel) -> str:
    """Make ``model`` reachable through litellm as ``reasoners/<key>``; returns that model string."""
    with _registry_lock:
        _registry[key] = model
    _install_handler()
    return f"{PROVIDER}/{key}"


def lookup(key: str) -> InProcessModel:
    model = _registry.get(key)
    if model is None:
        raise KeyError(f"no in-process model registered as {key!r}")
    return model


def _install_handler() -> None:
    global _installed
    if _installed:
        return
    lm = litellm()
    from litellm import CustomLLM, ModelResponse

    class _Handler(CustomLLM):  # type: ignore[misc]
        async def acompletion(  # type: ignore[override]
            self, model: str, messages: list, optional_params: dict, **kwargs: Any
        ) -> Any:
            key = model.split("/", 1)[1] if model.startswith(PROVIDER + "/") else model
            target = lookup(key)
            stop = optional_params.get("stop")
            raw = await target.complete(
                messages,
                max_tokens=int(optional_params.get("max_tokens") or 256),
                temperature=float(optional_params.get("temperature") or 0.0),
                top_p=optional_params.get("top_p"),
                stop=[stop] if isinstance(stop, str) else stop,
                logprobs=bool(optional_params.get("logprobs")),
                seed=optional_params.get("seed"),
            )
            choice: dict[str, Any] = {
                "index": 0,
                "finish_reason": raw.finish_reason,
                "message": {"role": "assistant", "content": raw.text},
            }
            if raw.logprobs is not None:
                choice["logprobs"] = {
                    "content": [
                        {"token": t.token, "logprob": t.logprob, "bytes": None, "top_logprobs": []} for t in raw.logprobs
                    ]
                }
            return ModelResponse(
                model=model,
                choices=[choice],
                usage={
                    "prompt_tokens": raw.prompt_tokens,
                    "completion_tokens": raw.completion_tokens,
                    "total_tokens": raw.prompt_tokens + raw.completion_tokens,
                },
            )

    with _registry_lock:
        if _installed:
            return
        providers = [p for p in getattr(lm, "custom_provider_map") if p.get("provider") != PROVIDER]
        setattr(lm, "custom_provider_map", [*providers, {"provider": PROVIDER, "custom_handler": _Handler()}])
        from litellm.utils import custom_llm_setup

        custom_llm_setup()
        _installed = True
