"""Problem, Candidate and Result: the plain data every strategy reads and returns."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .errors import ConfigError, LLMError
from .usage import Usage

__all__ = ["AnswerKind", "Problem", "Candidate", "Result", "FailedSample"]

AnswerKind = Literal["number", "choice", "text", "code"]
_KINDS = ("number", "choice", "text", "code")


@dataclass
class Problem:
    """A question and what kind of answer it wants.

    ``choices`` are the options of a multiple-choice question (labelled A, B, ...);
    ``tests`` are assert statements for code problems; ``gold`` is the reference
    answer when known (benchmarks), never shown to the model.

    >>> Problem("What is 2 + 3?", kind="number").kind
    'number'
    """

    question: str
    kind: AnswerKind = "number"
    choices: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    gold: str | None = None
    id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.question, str) or not self.question.strip():
            raise ConfigError("Problem.question must be a non-empty string")
        try:
            self.question.encode("utf-8")
        except UnicodeEncodeError as e:  # undecodable bytes, e.g. from a command line in another encoding
            raise ConfigError(f"the question is not valid UTF-8 text (undecodable bytes at character {e.start})") from None
        if self.kind not in _KINDS:
            raise ConfigError(f"Problem.kind must be one of {', '.join(_KINDS)}; got {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ConfigError("a Problem of kind 'choice' needs its choices")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Problem:
        return cls(**d)


@dataclass
class Candidate:
    """One proposed solution: the raw text, the answer extracted from it and how it scored.

    ``text`` is the model's final text (the answer was read from it); ``reasoning`` its
    thinking, for reasoning models (never read for answers). ``logprob`` is the sum of
    its token logprobs and ``mean_logprob`` their mean, when the backend returned them;
    ``score`` is set by whatever ranked it; ``source`` says which strategy (path)
    produced it. ``metadata["abstained"]`` says why a sample has no answer to vote with
    ("starved": its thinking used up its tokens; "reasoning_only"; "empty").
    """

    text: str
    answer: str | None = None
    logprob: float | None = None
    mean_logprob: float | None = None
    score: float | None = None
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    reasoning: str | None = None

    @property
    def truncated(self) -> bool:
        """The completion stopped at its token limit (strategies record ``finish_reason`` in metadata)."""
        return self.metadata.get("finish_reason") == "length"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        return cls(**d)


@dataclass
class FailedSample:
    """A branch of a run (a sample, a backward chain, a tree node's answer, a search proposal)
    whose model call still failed after its retries. The run answers from the other branches."""

    where: str
    error: LLMError

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "error": type(self.error).__name__, "message": str(self.error)}


@dataclass
class Result:
    """What a strategy returns: the answer, how sure it is, and what it cost.

    ``exhausted`` is True when the budget ran out before the strategy finished;
    the answer is then the best one found so far (possibly None).
    ``degraded`` is True when some branches failed after their retries and the answer
    comes from the rest; ``metadata["failed_samples"]`` lists them (where, error class, message).
    ``trace`` is the run's call tree as a JSON-ready dict (see ``reasoners.core.trace``).
    ``abstained`` counts the samples that gave no final text to answer from (a reasoning
    model cut off while thinking, or that only thought); they never vote, and
    ``metadata["abstentions"]`` says why, by reason.
    """

    answer: str | None
    confidence: float = 0.0
    candidates: list[Candidate] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    exhausted: bool = False
    degraded: bool = False
    abstained: int = 0
    strategy: str = ""
    trace: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["usage"] = self.usage.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        d = dict(d)
        d["usage"] = Usage.from_dict(d.get("usage") or {})
        d["candidates"] = [Candidate.from_dict(c) for c in d.get("candidates") or []]
        return cls(**d)

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)
