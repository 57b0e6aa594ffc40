"""One exception tree for the whole toolkit.

Provider and HTTP errors are converted into these classes once, at the LLM
client boundary (``reasoners.llm.convert``), with the original chained as
``__cause__`` (and every secret redacted from both). Retries key on the classes,
never on message text: the transient ones derive from :class:`TransientError`::

    ReasonersError
    ├── ConfigError              bad input or configuration (also a ValueError)
    │   ├── SpecError            a spec string that does not parse (re-exported by reasoners.spec)
    │   └── RetrieverError       a bad corpus or retriever input (re-exported by retrievers)
    ├── CapabilityError          the backend cannot do what was asked
    ├── BudgetExhausted          a request does not fit the budget (.limit names which)
    ├── SyncInAsyncError         a sync call inside a running event loop
    └── LLMError (.status, .model)
        ├── SamplesFailed        some of n samples failed after their retries (.completions: the rest)
        ├── TransientError       retried
        │   ├── RateLimitError (.retry_after)
        │   ├── RequestTimeout
        │   ├── APIConnectionError
        │   ├── ServerError
        │   └── MalformedResponseError
        └── ProviderError        not retried
            ├── AuthError        a bad, missing or empty key
            └── ContextWindowError
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ReasonersError",
    "ConfigError",
    "SpecError",
    "RetrieverError",
    "CapabilityError",
    "BudgetExhausted",
    "LLMError",
    "SamplesFailed",
    "TransientError",
    "RateLimitError",
    "RequestTimeout",
    "APIConnectionError",
    "ServerError",
    "MalformedResponseError",
    "AuthError",
    "ContextWindowError",
    "ProviderError",
    "SyncInAsyncError",
]


class ReasonersError(Exception):
    """Root of every error this toolkit raises on purpose."""


class ConfigError(ReasonersError, ValueError):
    """Bad configuration or input: an unknown model, a bad parameter, a missing extra."""


class SpecError(ConfigError):
    """A spec string that does not parse; the message points at the position."""


class RetrieverError(ConfigError):
    """Bad retriever input: an empty corpus, a malformed file, k < 1."""


class CapabilityError(ReasonersError):
    """The model or backend cannot do what was asked (e.g. prompt scoring)."""


class BudgetExhausted(ReasonersError):
    """A request does not fit in what is left of a :class:`reasoners.Budget`."""

    def __init__(self, message: str, *, limit: str = "") -> None:
        super().__init__(message)
        self.limit = limit


class SyncInAsyncError(ReasonersError, RuntimeError):
    """A sync entry point was called inside a running event loop."""


class LLMError(ReasonersError):
    """A model call failed. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, model: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.model = model


class SamplesFailed(LLMError):
    """Some of the ``n`` samples of one call still failed after their retries. Nothing that came
    back is lost: ``completions`` holds those samples, ``errors`` each failed sample's index and
    error. The strategy layer's policy (``Context.generate``) records the failures and answers
    from the completions; a direct caller decides for itself."""

    def __init__(self, completions: list[Any], errors: list[tuple[int, LLMError]]) -> None:
        first = errors[0][1]
        super().__init__(f"{len(errors)} of {len(errors) + len(completions)} samples failed: {first}",
                         status=first.status, model=first.model)
        self.completions = completions
        self.errors = errors


class ProviderError(LLMError):
    """The provider refused or failed the request (non-transient unless a subclass says so)."""


class TransientError(LLMError):
    """A failure that may pass if the same request is sent again: the client retries these."""


class RateLimitError(TransientError):
    """HTTP 429. ``retry_after`` is the server's hint in seconds, when it sent one."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = 429, model: str = ""
    ) -> None:
        super().__init__(message, status=status, model=model)
        self.retry_after = retry_after


class RequestTimeout(TransientError):
    """The request took longer than its timeout."""


class APIConnectionError(TransientError):
    """The server could not be reached or dropped the connection."""


class ServerError(TransientError):
    """HTTP 5xx from the provider."""


class MalformedResponseError(TransientError):
    """The server answered 2xx with a body that is not a valid completion."""


class AuthError(ProviderError):
    """HTTP 401/403 or a missing API key. Never retried."""


class ContextWindowError(ProviderError):
    """The prompt plus ``max_tokens`` does not fit the model's context window."""
