"""The SDK boundary: litellm's lazy import, and conversion of litellm, openai and httpx errors into ours (once, here).

Conversion is also where secrets are kept out: a server that echoes the
Authorization header into its error body would otherwise put the key into our
message, the chained original, the trace, the logs and the CLI's stderr. Every
configured key (the client's ``api_key`` and the environment's ``*_API_KEY``,
``*_TOKEN``, ``*_SECRET`` values) and anything shaped like a bearer token is
replaced by ``[REDACTED]`` in the converted error and in every exception of the
chain it carries.
"""

from __future__ import annotations

import contextlib
import copy
import email.utils
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable
from types import ModuleType
from typing import Any, TypeVar

from ..core.errors import (
    APIConnectionError,
    AuthError,
    ConfigError,
    ContextWindowError,
    LLMError,
    MalformedResponseError,
    ProviderError,
    RateLimitError,
    ReasonersError,
    RequestTimeout,
    ServerError,
)

_litellm: ModuleType | None = None
E = TypeVar("E", bound=BaseException)


def litellm() -> ModuleType:
    """Import litellm on first use (it takes seconds), offline-friendly and quiet."""
    global _litellm
    if _litellm is None:
        # Without this litellm fetches its price map from the network at import.
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm as _lm

        _lm.suppress_debug_info = True
        _lm.telemetry = False
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):  # its debug logs print raw errors
            logging.getLogger(name).addFilter(RedactingFilter())
        if "LITELLM_LOG" not in os.environ:
            # litellm warns per call about its own logging worker when sync callers change
            # event loops; our client reports every failure itself, so keep its logger to errors.
            logging.getLogger("LiteLLM").setLevel(logging.ERROR)
        _litellm = _lm
    return _litellm


REDACTED = "[REDACTED]"
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]{8,}")
_KEY_SHAPED = re.compile(r"\b(?:sk|pk|rk|key|api|tok)[-_][A-Za-z0-9_\-]{16,}\b")
_SECRET_VARS = re.compile(r"(?i)(API_?KEY|_KEY|TOKEN|SECRET|PASSWORD|PASSWD|_PASS|CREDENTIALS?|_AUTH)$")


def configured_secrets(extra: Iterable[str | None] = ()) -> list[str]:
    """The secrets to keep out of messages: ``extra`` and key-like environment values (8+ chars)."""
    found = [v for k, v in os.environ.items() if _SECRET_VARS.search(k) and v and len(v.strip()) >= 8]
    found += [v for v in extra if v and len(v.strip()) >= 8]
    return sorted(set(found), key=len, reverse=True)  # longest first, so no key is left half-replaced


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret and bearer-token-shaped string replaced by ``[REDACTED]``."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _KEY_SHAPED.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts configured secrets and bearer tokens from each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, configured_secrets())
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_scrub(v, secrets) for v in value)
    return value


def scrub_chain(exc: BaseException, secrets: list[str], *, drop_http: bool = True) -> None:
    """Redact, in place, the messages of ``exc`` and of every exception that led to it; with
    ``drop_http``, also drop the HTTP request and response they hold (headers and body may hold a key)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        try:
            cur.args = tuple(_scrub(a, secrets) for a in cur.args)
            for name in ("message", "body", "llm_provider_message"):
                if isinstance(getattr(cur, name, None), (str, dict, list)):
                    setattr(cur, name, _scrub(getattr(cur, name), secrets))
        except (AttributeError, TypeError):  # an exception type with read-only fields
            pass
        for name in ("response", "request") if drop_http else ():  # the HTTP exchange (headers, body)
            if getattr(cur, name, None) is not None:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(cur, name, None)
        cur = cur.__cause__ or cur.__context__


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _retry_after(exc: BaseException) -> float | None:
    for source in (getattr(exc, "headers", None), getattr(getattr(exc, "response", None), "headers", None)):
        if source:
            try:
                ms = source.get("retry-after-ms")
                if ms:
                    return float(ms) / 1000.0
                value = source.get("retry-after") or source.get("Retry-After")
            except (AttributeError, ValueError):
                continue
            if (parsed := parse_retry_after(value)) is not None:
                return parsed
    return None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).replace("litellm.", "").strip()
    return text if len(text) <= limit else text[:limit] + "..."


def _cause(exc: BaseException, kind: type[E]) -> E | None:
    """The first exception of ``kind`` in the chain that led to ``exc`` (``exc`` included)."""
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kind):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def convert_error(exc: BaseException, model: str, secrets: Iterable[str | None] = ()) -> ReasonersError:
    """Map a litellm/openai/httpx exception to the toolkit's tree, with every secret redacted from it
    and from ``exc``'s chain (see the module docstring). The caller chains the original."""
    keys = configured_secrets(secrets)
    scrub_chain(exc, keys, drop_http=False)
    err = _convert(exc, model)  # reads what it needs of the HTTP exchange (status, Retry-After) first
    scrub_chain(err, keys)
    scrub_chain(exc, keys)
    return err


_CONTEXT = re.compile(r"(?i)context (length|window)|maximum context|too many tokens|exceeds the context")


def _convert(exc: BaseException, model: str) -> ReasonersError:
    if isinstance(exc, ReasonersError):
        return exc
    if (own := _cause(exc, ReasonersError)) is not None:
        # An in-process model raised one of ours (e.g. ContextWindowError) and something wrapped
        # it; a copy keeps its class (so retries see it) without a chain cycle.
        return copy.copy(own)
    # The SDKs' classes, from whichever of litellm and openai is loaded (neither is imported here).
    modules = [m for m in (_litellm, sys.modules.get("openai")) if m is not None]

    def isa(*names: str) -> bool:
        kinds = tuple(getattr(m, n) for m in modules for n in names if isinstance(getattr(m, n, None), type))
        return bool(kinds) and isinstance(exc, kinds)

    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    msg = f"{model}: {_short(exc)}"
    if isa("RateLimitError") or status == 429:
        return RateLimitError(msg, retry_after=_retry_after(exc), model=model)
    if isa("ContextWindowExceededError") or (status == 400 and _CONTEXT.search(str(exc))):
        return ContextWindowError(msg, status=status, model=model)
    if isa("AuthenticationError", "PermissionDeniedError") or status in (401, 403):
        return AuthError(msg, status=status, model=model)
    if isa("Timeout", "APITimeoutError"):
        return RequestTimeout(msg, status=status, model=model)
    if isa("APIResponseValidationError") or _cause(exc, json.JSONDecodeError) is not None:
        return MalformedResponseError(f"{model}: malformed response body: {_short(exc)}", status=status, model=model)
    if isa("LiteLLMUnknownProvider"):
        return ConfigError(f"unknown model or provider {model!r}: {_short(exc)}")
    if (refused := _cause(exc, ConnectionError)) is not None:
        # litellm reports a refused or dropped connection as a 500; say what happened
        return APIConnectionError(f"{model}: cannot reach the server: {_short(refused)}", model=model)
    if status is not None and status >= 500:
        return ServerError(msg, status=status, model=model)
    if isa("InternalServerError", "ServiceUnavailableError", "BadGatewayError"):
        return ServerError(msg, status=status, model=model)
    if isa("APIConnectionError"):
        return APIConnectionError(msg, status=status, model=model)
    if isa("NotFoundError") or status == 404:
        return ProviderError(f"{msg} (HTTP 404: check the model name and api_base)", status=404, model=model)
    if isa("BadRequestError") or (status is not None and 400 <= status < 500):
        return ProviderError(msg, status=status, model=model)
    if isinstance(exc, (ConnectionError, OSError)):
        return APIConnectionError(msg, model=model)
    return LLMError(msg, status=status, model=model)


def describe(exc: BaseException) -> str:
    """One line naming an error, for traces and logs."""
    return f"{type(exc).__name__}: {_short(exc, 200)}"

