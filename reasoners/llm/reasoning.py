"""Thinking kept apart from the answer: the one place a model's reasoning is separated from its final text.

Reasoning models send their thinking in one of these shapes, and every transport's
reply passes through here (:func:`split_reasoning` for whole replies,
:class:`StreamSplitter` for streams) before anything reads it:

- inline tags in the text, R1-style: ``<think>...</think>final`` (the tags are
  configurable per model, :class:`ThinkingFormat`); a block left open (the reply was
  cut off while thinking) leaves no final text; a reply whose chat template opened the
  block in the prompt starts inside it (``...</think>final``); repeated and nested
  blocks are all thinking;
- a separate field: ``reasoning_content`` (DeepSeek, vLLM, llama.cpp's parser),
  ``reasoning`` (OpenRouter, Ollama) or Anthropic's thinking blocks through litellm:
  the transports put it in :attr:`Choice.reasoning <reasoners.llm.transport.Choice>`;
- gpt-oss's harmony channels: ``<|channel|>analysis<|message|>...<|end|>`` is thinking,
  ``<|channel|>final<|message|>...`` the answer.

Inline tags count only where the reply opens with them (or closes one it never
opened): a ``<think>`` an answer merely mentions, say while explaining the tag a
user asked about, is answer text. Prompts are never touched.

Token logprobs are split with the text: the final text's tokens stay in
``logprobs`` (they concatenate to the final text exactly), the thinking's go to
``reasoning_logprobs``, so a confidence read from an answer's tokens is the
answer's, not the thinking's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .types import TokenLogprob

__all__ = ["ThinkingFormat", "Split", "split_reasoning", "StreamSplitter", "ReasoningDelta", "provider_fields",
           "THINKING_TOKENS"]

THINKING_TOKENS = 4096
"""Room reserved for thinking when a model is known to think and the caller set no ``max_tokens``:
a call then asks for this plus the client's ``max_tokens`` (within the caller's budget)."""


@dataclass(frozen=True)
class ThinkingFormat:
    """How a model marks its inline thinking: the opening and closing tag.

    ``starts_inside``: the model's chat template opens the block in the prompt (DeepSeek-R1
    distills, QwQ), so a stream is thinking from its first token until the closing tag.
    A whole reply needs no flag: a closing tag with no opening one shows it.
    """

    open: str = "<think>"
    close: str = "</think>"
    starts_inside: bool = False

    def __post_init__(self) -> None:
        from ..core.errors import ConfigError

        if not self.open or not self.close or self.open == self.close:
            raise ConfigError(f"thinking tags must be two different non-empty strings; got {self.open!r}, "
                              f"{self.close!r}")


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of a streamed reply's thinking (text deltas of the answer are plain ``str``)."""

    text: str


@dataclass
class Split:
    """A reply separated: the final ``text``, the ``reasoning`` (None when there was none), and
    the logprobs of each, when the reply had logprobs."""

    text: str
    reasoning: str | None = None
    logprobs: list[TokenLogprob] | None = None
    reasoning_logprobs: list[TokenLogprob] | None = None


_HARMONY = re.compile(
    r"<\|channel\|>\s*(\w+)[^<]*?<\|message\|>(.*?)(?=<\|end\|>|<\|return\|>|<\|call\|>|<\|start\|>|\Z)", re.S)


def _segments(text: str, fmt: ThinkingFormat) -> list[tuple[str, int, int]] | None:
    """``(kind, start, end)`` pieces of ``text``, kind "final" or "reasoning" (markup left out);
    None when the text carries no thinking markup."""
    if "<|channel|>" in text and "<|message|>" in text:
        found = [("final" if m.group(1) == "final" else "reasoning", m.start(2), m.end(2))
                 for m in _HARMONY.finditer(text)]
        return found or None
    opens, closes = text.find(fmt.open), text.find(fmt.close)
    leads = opens >= 0 and not text[:opens].strip()
    starts_inside = closes >= 0 and (opens < 0 or closes < opens)
    if not leads and not starts_inside:
        return None
    tags = re.compile(f"({re.escape(fmt.open)})|{re.escape(fmt.close)}")
    out: list[tuple[str, int, int]] = []
    depth, pos = (1 if starts_inside else 0), 0
    for m in tags.finditer(text):
        if m.start() > pos:
            out.append(("reasoning" if depth else "final", pos, m.start()))
        depth = depth + 1 if m.group(1) else max(0, depth - 1)
        pos = m.end()
    if pos < len(text):
        out.append(("reasoning" if depth else "final", pos, len(text)))
    return out


def split_reasoning(
    text: str,
    logprobs: list[TokenLogprob] | None = None,
    fmt: ThinkingFormat | None = None,
    *,
    reasoning: str | None = None,
) -> Split:
    """Separate a whole reply's thinking from its final text (see the module docstring).

    ``reasoning`` is thinking a provider sent in its own field; inline thinking found in
    ``text`` is added after it. A reply with thinking but no final text has ``text == ""``:
    it abstains.
    """
    reasoning = reasoning.strip() if reasoning else None
    segments = _segments(text, fmt or ThinkingFormat())
    if segments is None:
        if not reasoning:
            return Split(text, None, logprobs, None)
        segments = [("final", 0, len(text))]  # thinking sent apart: the text is all answer
    # The answer starts at its first visible character (the blank lines after a closing tag are markup).
    segments = _lstrip_final(text, segments)
    final = "".join(text[s:e] for kind, s, e in segments if kind == "final")
    inline = "".join(text[s:e] for kind, s, e in segments if kind == "reasoning").strip()
    thinking = "\n\n".join(r for r in (reasoning, inline) if r) or None
    kept, thought = (_split_logprobs(logprobs, segments) if logprobs else (logprobs, None))
    return Split(final, thinking, kept, thought)


def _lstrip_final(text: str, segments: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """``segments`` with the white space that opens the final text dropped (an all-blank final text
    is dropped whole: the reply has no answer)."""
    out, leading = [], True
    for kind, s, e in segments:
        if kind == "final" and leading:
            while s < e and text[s].isspace():
                s += 1
            if s == e:
                continue
            leading = False
        out.append((kind, s, e))
    return out


def _split_logprobs(
    logprobs: list[TokenLogprob], segments: list[tuple[str, int, int]]
) -> tuple[list[TokenLogprob], list[TokenLogprob]]:
    """Each token's characters go with the segment they fall in; a token straddling a boundary
    is cut there (both pieces keep its logprob), so the final tokens spell the final text."""
    final: list[TokenLogprob] = []
    thought: list[TokenLogprob] = []
    pos = 0
    for t in logprobs:
        start, end = pos, pos + len(t.token)
        pos = end
        for kind, s, e in segments:
            lo, hi = max(start, s), min(end, e)
            if lo < hi:
                piece = t.token[lo - start : hi - start]
                (final if kind == "final" else thought).append(TokenLogprob(piece, t.logprob))
    return final, thought


class StreamSplitter:
    """Inline thinking separated from a stream of text deltas as they arrive.

    :meth:`feed` takes a delta and returns the pieces that can be told apart so far: ``str``
    for answer text, :class:`ReasoningDelta` for thinking. Text that might still be the start
    of a tag is held back until the next delta (or :meth:`close`) decides it. As for whole
    replies, tags count only where the reply opens with one, or (``fmt.starts_inside``)
    where the template opened it. The whole reply, re-split at its end by
    :func:`split_reasoning`, is what answers are read from.
    """

    def __init__(self, fmt: ThinkingFormat | None = None) -> None:
        self.fmt = fmt or ThinkingFormat()
        self._pending = ""
        self._depth = 1 if self.fmt.starts_inside else 0
        self._decided = self.fmt.starts_inside  # whether the reply opens with a tag is known
        self._tags = self.fmt.starts_inside
        self._harmony = False
        self._answered = False  # answer text has gone out
        self._channel: str | None = None  # harmony: the channel being written, None between messages

    def feed(self, delta: str) -> list[str | ReasoningDelta]:
        self._pending += delta
        return self._drain(final=False)

    def close(self) -> list[str | ReasoningDelta]:
        return self._drain(final=True)

    def _emit(self, out: list[str | ReasoningDelta], text: str) -> None:
        if self._depth:
            if text:
                out.append(ReasoningDelta(text))
            return
        if not self._answered and self._tags:  # the blank lines after a closing tag are markup
            text = text.lstrip()
        if text:
            self._answered = True
            out.append(text)

    def _drain(self, final: bool) -> list[str | ReasoningDelta]:
        out: list[str | ReasoningDelta] = []
        if not self._decided:
            head = self._pending.lstrip()
            markers = (self.fmt.open, "<|channel|>", "<|start|>")
            if not final and any(len(head) < len(m) and m.startswith(head) for m in markers):
                return out  # could still open with a tag
            self._decided = True
            self._tags = head.startswith(self.fmt.open)
            self._harmony = head.startswith(("<|channel|>", "<|start|>"))
            if self._tags:
                self._pending = head
        if self._harmony:
            return self._drain_harmony(final)
        if not self._tags:
            out_text, self._pending = self._pending, ""
            self._emit(out, out_text)
            return out
        while True:
            o, c = self._pending.find(self.fmt.open), self._pending.find(self.fmt.close)
            hits = [(i, tag) for i, tag in ((o, self.fmt.open), (c, self.fmt.close)) if i >= 0]
            if not hits:
                break
            i, tag = min(hits)
            self._emit(out, self._pending[:i])
            self._depth = self._depth + 1 if tag == self.fmt.open else max(0, self._depth - 1)
            self._pending = self._pending[i + len(tag):]
        keep = 0 if final else _partial_tag(self._pending, (self.fmt.open, self.fmt.close))
        text, self._pending = self._pending[: len(self._pending) - keep], self._pending[len(self._pending) - keep:]
        self._emit(out, text)
        return out


    _HARMONY_END = ("<|end|>", "<|return|>", "<|call|>", "<|start|>")

    def _drain_harmony(self, final: bool) -> list[str | ReasoningDelta]:
        out: list[str | ReasoningDelta] = []
        while True:
            if self._channel is None:
                m = _HARMONY_HEAD.search(self._pending)
                if m is None:
                    if final:
                        self._pending = ""
                    return out
                self._channel, self._pending = m.group(1), self._pending[m.end():]
                continue
            ends = [i for i in (self._pending.find(e) for e in self._HARMONY_END) if i >= 0]
            if ends:
                self._emit_channel(out, self._pending[: min(ends)])
                self._channel, self._pending = None, self._pending[min(ends):].split("|>", 1)[-1]
                continue
            keep = 0 if final else _partial_tag(self._pending, self._HARMONY_END)
            self._emit_channel(out, self._pending[: len(self._pending) - keep])
            self._pending = self._pending[len(self._pending) - keep:]
            return out

    def _emit_channel(self, out: list[str | ReasoningDelta], text: str) -> None:
        if text:
            out.append(text if self._channel == "final" else ReasoningDelta(text))


_HARMONY_HEAD = re.compile(r"<\|channel\|>\s*(\w+)[^<]*?<\|message\|>")


def _partial_tag(text: str, tags: tuple[str, ...]) -> int:
    """The length of the longest end of ``text`` that begins one of ``tags``."""
    best = 0
    for tag in tags:
        for k in range(min(len(tag) - 1, len(text)), 0, -1):
            if tag.startswith(text[-k:]):
                best = max(best, k)
                break
    return best


_THINKING_PARAM = ("anthropic/", "claude", "gemini/", "vertex_ai/", "bedrock/")
_EFFORT_MODELS = re.compile(r"(?:^|/)(?:o\d|gpt-5|gpt-oss)", re.I)


def provider_fields(params: dict[str, Any], model: str, api_base: str | None) -> dict[str, Any]:
    """A request's fields as a provider takes them: ``thinking_tokens`` becomes that provider's
    thinking limit and is never sent under our name.

    - Anthropic, Gemini (through litellm): ``thinking={"type": "enabled", "budget_tokens": N}``
      (``{"type": "disabled"}`` for 0);
    - OpenAI's reasoning models (o-series, gpt-5, gpt-oss) take no token count: ``reasoning_effort``
      from it (up to 1024 tokens "low", up to 8192 "medium", else "high"), unless one was given;
    - an OpenAI-compatible server (``api_base``: vLLM, SGLang, llama.cpp): the chat template's
      ``enable_thinking`` switch (``extra_body.chat_template_kwargs``), off for 0; the count
      itself is held by ``max_tokens``.
    """
    fields = dict(params)
    fields.pop("stop_below", None)  # ours: a transport cuts the stream itself
    limit = fields.pop("thinking_tokens", None)
    if limit is None:
        return fields
    name = model.lower()
    if name.startswith(_THINKING_PARAM):
        fields["thinking"] = {"type": "enabled", "budget_tokens": limit} if limit else {"type": "disabled"}
    elif api_base is None and _EFFORT_MODELS.search(name):
        fields.setdefault("reasoning_effort", "low" if limit <= 1024 else "medium" if limit <= 8192 else "high")
    elif api_base is not None:
        extra = dict(fields.get("extra_body") or {})
        extra["chat_template_kwargs"] = {**extra.get("chat_template_kwargs", {}), "enable_thinking": limit > 0}
        fields["extra_body"] = extra
    return fields
