"""Prompt scoring on OpenAI-compatible servers: ``/v1/completions`` with ``echo`` and ``logprobs``.

Measured on llama-cpp-python's server: for a model that adds no BOS token, each
echoed prompt token gets the logprob from its own position's logits (the
prediction of the *next* token) unless the prompt starts with the start token;
``LLM(score_prefix=...)`` supplies it.

The server returns the logprob of every prompt token; the continuation's tokens
are those whose text offset lies at or past the end of ``prompt``. One extra
token is generated (``max_tokens=1``; 0 means "unlimited" on llama.cpp) and dropped.
Both HTTP transports build the request with :class:`EchoRequest` and read the
answer with :func:`echo_score`.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import MalformedResponseError
from ..core.usage import Usage
from .types import Score

__all__ = ["EchoRequest", "echo_score"]


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


class EchoRequest:
    """The text to send for scoring ``continuation`` after ``prompt``, and where the continuation lies."""

    def __init__(self, prompt: str, continuation: str, prefix: str) -> None:
        # llama.cpp's echo pairs each token with the wrong logits row unless the text starts
        # with the start token; the offsets it returns are relative to the text after it.
        if prefix and prompt.startswith(prefix):
            prompt = prompt[len(prefix):]
        self.text = prefix + prompt + continuation
        self.start, self.end = len(prompt), len(prompt) + len(continuation)
        self.fields: dict[str, Any] = {"echo": True, "logprobs": 1, "max_tokens": 1, "temperature": 0.0}


def echo_score(response: Any, request: EchoRequest, model: str) -> Score:
    """The continuation's token logprobs from an echo response (empty when the server sent none)."""
    choices = _field(response, "choices") or []
    lp = _field(choices[0], "logprobs") if choices else None
    tokens = _field(lp, "tokens") if lp is not None else None
    values = _field(lp, "token_logprobs") if lp is not None else None
    offsets = _field(lp, "text_offset") if lp is not None else None
    if not tokens or values is None or offsets is None:
        return Score([], [])
    if not (len(tokens) == len(values) == len(offsets)):
        raise MalformedResponseError(f"{model}: echo logprobs have mismatched lengths", model=model)
    # A token that straddles the prompt/continuation boundary belongs to the continuation.
    picked = [
        (str(t), float(v))
        for t, v, o in zip(tokens, values, offsets)
        if v is not None and o + len(str(t)) > request.start and o < request.end
    ]
    usage_raw = _field(response, "usage") or {}
    prompt_tokens = int(_field(usage_raw, "prompt_tokens") or 0)
    completion_tokens = int(_field(usage_raw, "completion_tokens") or 0)
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, calls=1)
    return Score([t for t, _ in picked], [v for _, v in picked], usage)
