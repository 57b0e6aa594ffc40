"""What a run reports while it runs: the typed events of :meth:`Strategy.astream`.

A run yields, in order of happening: :class:`CallStarted` / :class:`CallFinished`
for each model call, :class:`TextDelta` for text as a single-call strategy
(chain of thought) writes it and :class:`ReasoningText` for its thinking (reasoning
models), :class:`SampleAnswered` and :class:`Votes` as
parallel samples come back, and last :class:`Finished` with the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..core.problem import Result
from ..core.usage import Usage

__all__ = ["CallStarted", "CallFinished", "TextDelta", "ReasoningText", "SampleAnswered", "Votes", "Finished",
           "Event"]


@dataclass(frozen=True)
class CallStarted:
    """A model call went out: ``kind`` is ``"llm"`` (generation) or ``"score"`` (prompt scoring)."""

    kind: str
    model: str


@dataclass(frozen=True)
class CallFinished:
    """A model call came back (or failed: ``error``); ``usage`` is what it spent."""

    kind: str
    model: str
    usage: Usage
    cached: bool = False
    seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class TextDelta:
    """Text of the answer as the model writes it."""

    text: str


@dataclass(frozen=True)
class ReasoningText:
    """Thinking of a reasoning model as it writes it, before its answer (never part of the answer)."""

    text: str


@dataclass(frozen=True)
class SampleAnswered:
    """Parallel sample ``index`` finished with ``answer`` (None: no answer, or it failed)."""

    index: int
    answer: str | None
    failed: bool = False


@dataclass(frozen=True)
class Votes:
    """The answers of the samples finished so far, with how many samples gave each."""

    counts: dict[str, int] = field(default_factory=dict)
    samples: int = 0


@dataclass(frozen=True)
class Finished:
    """The run's result, as :meth:`Strategy.arun` returns it."""

    result: Result


Event = Union[CallStarted, CallFinished, TextDelta, ReasoningText, SampleAnswered, Votes, Finished]
