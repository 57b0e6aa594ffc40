"""Prompt scoring on OpenAI-compatible servers: ``/v1/completions`` with ``echo`` and ``logprobs``.

Measured on llama-cpp-python's server: for a model that adds no BOS token, each
echoed prompt token gets the logprob from its own position's logits (the
prediction of the *next* token) unless the prompt starts with the start token;
``LLM(score_prefix=...)`` supplies it.

The server returns the logprob of every prompt token; the continuation's tokens
are those whose text offset lies at or past the end of ``prompt``. One extra
token is generated (``max_tokens=1``; 0 means "unlimited" on llama.cpp) and dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import MalformedResponseError, ReasonersError
from ..usage import Usage
from .convert import convert_error, litellm
from .types import Score

if TYPE_CHECKING:
    from .client import LLM


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


async def score_by_echo(llm: LLM, prompt: str, continuation: str, timeout: float) -> Score:
    """Prompt logprobs from ``/v1/completions`` with ``echo`` (llama.cpp, vLLM), within ``timeout`` seconds."""
    lm = litellm()
    name = llm.model.split("/", 1)[-1]
    # llama.cpp's echo pairs each token with the wrong logits row unless the text starts
    # with the start token; the offsets it returns are relative to the text after it.
    prefix = llm.score_prefix
    if prefix and prompt.startswith(prefix):
        prompt = prompt[len(prefix) :]
    text = prompt + continuation
    kwargs: dict[str, Any] = {
        "model": f"text-completion-openai/{name}",
        "prompt": prefix + text,
        "echo": True,
        "logprobs": 1,
        "max_tokens": 1,
        "temperature": 0.0,
        "num_retries": 0,
        "max_retries": 0,
        "timeout": timeout,
        "api_base": llm.api_base,
    }
    if (key := llm._request_key()) is not None:
        kwargs["api_key"] = key
    try:
        response = await lm.atext_completion(**kwargs)
    except ReasonersError:
        raise
    except Exception as e:
        raise convert_error(e, llm.model, (llm._api_key,)) from e
    choices = _field(response, "choices") or []
    lp = _field(choices[0], "logprobs") if choices else None
    tokens = _field(lp, "tokens") if lp is not None else None
    values = _field(lp, "token_logprobs") if lp is not None else None
    offsets = _field(lp, "text_offset") if lp is not None else None
    if not tokens or values is None or offsets is None:
        return Score([], [])
    if not (len(tokens) == len(values) == len(offsets)):
        raise MalformedResponseError(f"{llm.model}: echo logprobs have mismatched lengths", model=llm.model)
    start, end = len(prompt), len(text)
    # A token that straddles the prompt/continuation boundary belongs to the continuation.
    picked = [
        (str(t), float(v))
        for t, v, o in zip(tokens, values, offsets)
        if v is not None and o + len(str(t)) > start and o < end
    ]
    usage_raw = _field(response, "usage") or {}
    prompt_tokens = int(_field(usage_raw, "prompt_tokens") or 0)
    completion_tokens = int(_field(usage_raw, "completion_tokens") or 0)
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, calls=1)
    return Score([t for t, _ in picked], [v for _, v in picked], usage)
