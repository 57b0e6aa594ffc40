"""Scorers rank candidates for best-of-N and re-ranking stages. Higher is better.

- :class:`Verifier`: a function of the answer (and text) you supply, e.g. a checker or unit tests.
- :class:`PuzzleChecker`: the exact checker of a puzzle problem (Countdown, Game of 24, Sudoku).
- :class:`PublicTests`: the share of a code problem's public tests a candidate passes (sandboxed).
- :class:`LLMJudge`: a model rates each candidate 0-10 against a rubric.
- :class:`MeanLogprob`: the candidate's mean token logprob (length-normalised likelihood).
- :class:`TRLMScorer`: time-reversed scoring, log P(question | answer) under a reverse prompt.

A scorer that cannot work with the backend says so in :meth:`Scorer.check`,
before anything is spent. A failure on one candidate gives it no score (it
ranks last) and is recorded in the trace; running out of budget, or a scorer that
cannot apply to the problem (a ConfigError), stops scoring.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from ..core.errors import CapabilityError, ConfigError
from ..core.problem import Candidate, Problem
from ..core.trace import span
from ..domains.code import public_tests, run_tests
from ..domains.puzzles import puzzle_for
from ..llm.client import LLM
from ..sandbox import Sandbox
from .base import Context, config_of, registrar
from .cot import format_question
from .params import check_fields, param, settings

__all__ = [
    "Scorer",
    "Verifier",
    "PuzzleChecker",
    "PublicTests",
    "LLMJudge",
    "MeanLogprob",
    "TRLMScorer",
    "parse_judge_score",
    "SCORERS",
]

SCORERS: dict[str, type[Scorer]] = {}
register_scorer = registrar(SCORERS)
"""``@register_scorer("name")``: make a scorer available in specs (``bon(scorer=judge)``)."""


class Scorer(ABC):
    """Scores one candidate; :meth:`score_all` scores many concurrently."""

    name = "scorer"
    needs_logprobs = False
    """True when the scorer reads the candidates' token logprobs, so samplers must request them."""

    def __post_init__(self) -> None:
        """After a registered (dataclass) scorer is built: check its fields' types and bounds."""
        check_fields(self)

    def config(self) -> dict[str, Any]:
        """The scorer's parameters, for traces and specs: its fields."""
        return config_of(self)

    def check(self, ctx: Context) -> None:
        """Raise :class:`CapabilityError` if this scorer cannot work here. Called before sampling."""

    @abstractmethod
    async def score(self, problem: Problem, candidate: Candidate, ctx: Context) -> float | None: ...

    async def score_all(self, problem: Problem, candidates: list[Candidate], ctx: Context) -> list[float | None]:
        """Scores in candidate order; None where a candidate could not be scored."""
        with span("scorer", self.name) as s:

            async def one(i: int, c: Candidate) -> tuple[float | None, str | None]:
                # the run's failure policy: a failed model call is a failed sample, a crash of the
                # scorer's own code (a user's checker) leaves the candidate unscored; both rank last
                async def scored() -> tuple[float | None]:
                    return (await self.score(problem, c, ctx),)

                where = f"{self.name} score of candidate {i} ({c.source or 'unnamed'})"
                crashed: list[BaseException] = []
                out = await ctx.attempt(scored(), where, own_errors=crashed)
                if out is not None:
                    return (None if out[0] is None else float(out[0])), None
                error = crashed[0] if crashed else next(f.error for f in ctx.failures if f.where == where)
                return None, f"{type(error).__name__}: {error}"

            outcomes = await asyncio.gather(*(one(i, c) for i, c in enumerate(candidates)))
            scores = [score for score, _ in outcomes]
            errors = [{"candidate": i, "error": error} for i, (_, error) in enumerate(outcomes) if error]
            if s is not None:
                s.attrs.update(scores=scores, errors=errors)
        return scores


@settings
class Verifier(Scorer):
    """Score by a function you supply: ``fn(answer, text, problem) -> bool | float`` (sync or async).

    >>> Verifier(lambda answer, text, problem: answer == "42")  # doctest: +SKIP
    """

    name = "verifier"

    fn: Callable[[str | None, str, Problem], Any] = param(kw_only=False)

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ConfigError("Verifier needs a callable fn(answer, text, problem)")
        super().__post_init__()

    async def score(self, problem: Problem, candidate: Candidate, ctx: Context) -> float | None:
        out = self.fn(candidate.answer, candidate.text, problem)
        if inspect.isawaitable(out):
            out = await out
        return None if out is None else float(out)


@register_scorer("checker")
@settings
class PuzzleChecker(Scorer):
    """1.0 when the candidate's answer solves the puzzle exactly, else 0.0 (see :mod:`reasoners.domains.puzzles`).

    The parallel side of the backtracking comparison: ``bon(base=linear(backtrack=false), scorer=checker)``.
    """

    async def score(self, problem: Problem, candidate: Candidate, ctx: Context) -> float | None:
        return 1.0 if puzzle_for(problem).check(candidate.answer) else 0.0


@register_scorer("tests")
@settings
class PublicTests(Scorer):
    """The share of the problem's public tests (see :func:`reasoners.domains.code.public_tests`) the candidate's
    code passes, run in the sandbox. Direct sampling filtered by tests: ``bon(scorer=tests)``.

    A code problem that shows no tests (HumanEval/38's docstring has no ``>>>`` example) leaves
    nothing to filter on: every candidate is unscored (None), so best-of-N falls back to its tie
    rule (by default the program most samples agree on)."""

    runs_code = True  # it executes model-written code (in the sandbox)

    timeout: float = param(default=10.0, gt=0)

    async def score(self, problem: Problem, candidate: Candidate, ctx: Context) -> float | None:
        if problem.kind != "code":
            raise ConfigError(f"the tests scorer needs a code problem; this one's kind is {problem.kind!r}")
        tests = public_tests(problem)
        if not tests:
            return None
        if not candidate.answer:
            return 0.0
        result = await run_tests(problem, candidate.answer, tests, Sandbox(timeout=self.timeout))
        return result.passed_count / len(tests)


JUDGE_RUBRIC = (
    "You are grading a proposed solution to a problem. Judge whether its reasoning is sound "
    "and its final answer correct. Rate it from 0 (wrong) to 10 (certainly correct)."
)

_SCORE_PATTERNS = [
    re.compile(r"score\s*[:=]?\s*\**\s*(\d+(?:\.\d+)?)\s*(?:/\s*10)?", re.I),
    re.compile(r"(\d+(?:\.\d+)?)\s*/\s*10\b"),
    re.compile(r"rating\s*[:=]?\s*\**\s*(\d+(?:\.\d+)?)", re.I),
    re.compile(r"^\s*\**(\d+(?:\.\d+)?)\**\s*$", re.M),
]


def parse_judge_score(text: str) -> float | None:
    """The 0-10 rating in a judge's reply, or None. Tolerates "Score: 7", "7/10", "**8**", "Rating: 6.5"."""
    for pattern in _SCORE_PATTERNS:
        for m in reversed(list(pattern.finditer(text))):
            value = float(m.group(1))
            if 0 <= value <= 10:
                return value
    return None


@register_scorer("judge")
@settings
class LLMJudge(Scorer):
    """A model rates each candidate 0-10 against ``rubric`` (pointwise). ``llm`` defaults to the run's model."""

    llm: LLM | None = param(default=None, kw_only=False)
    rubric: str = JUDGE_RUBRIC
    max_tokens: int = param(default=128, ge=1)

    def messages(self, problem: Problem, candidate: Candidate) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.rubric},
            {
                "role": "user",
                "content": (
                    f"Problem:\n{format_question(problem)}\n\nProposed solution:\n{candidate.text.strip()}\n\n"
                    "Reply with one line 'Score: N' where N is from 0 to 10."
                ),
            },
        ]

    async def score(self, problem: Problem, candidate: Candidate, ctx: Context) -> float | None:
        llm = self.llm or ctx.llm
        [reply] = await llm.agenerate(
            self.messages(problem, candidate), temperature=0.0, max_tokens=self.max_tokens, budget=ctx.budget
        )
        return parse_judge_score(reply.text)


@register_scorer("mean_logprob")
@settings
class MeanLogprob(Scorer):
    """The candidate's mean token logprob: the model's own length-normalised confidence."""

    needs_logprobs = True

    def check(self, ctx: Context) -> None:
        if ctx.llm.capabilities.logprobs is False:
            raise CapabilityError(f"MeanLogprob needs token logprobs, which {ctx.llm.model} does not return")

    async def score(self, problem: Problem, candidate: Candidate, ctx: Context) -> float | None:
        return candidate.mean_logprob


TRLM_PAPER_TEMPLATE = "Generate a question that would result in the following answer:\n{response}\n\nQuestion:"
TRLM_TEMPLATE = (
    "Below is a solution to a problem. Write the problem it solves.\n\nSolution:\n{response}\n\nProblem:"
)


@register_scorer("trlm")
@settings
class TRLMScorer(Scorer):
    """Time-reversed scoring (TRLM-Fo): log P(question | candidate) under a reverse prompt.

    A candidate that makes the original question likely explains it well. Uses
    :meth:`LLM.score` on prompt tokens, so the scoring model (``llm``, default the
    run's model) must support prompt logprobs; :meth:`check` refuses before
    anything is spent otherwise. The score is the total logprob of the question.
    """

    llm: LLM | None = param(default=None, kw_only=False)
    template: str = TRLM_TEMPLATE

    def __post_init__(self) -> None:
        if "{response}" not in self.template:
            raise ConfigError("TRLMScorer template needs a {response} placeholder")
        super().__post_init__()

    @classmethod
    def paper(cls, **overrides: Any) -> TRLMScorer:
        """The paper's TRLM-Fo (Varun et al. 2024): a forward model prompted to go from the response
        back to the query ("Generate a question that would result in the following answer"), the
        query scored by its total log-probability. The paper re-ranks with its own reverse-trained
        TRLM-Ba too, which no registry package ships; this is the Fo variant only."""
        return cls(**{"template": TRLM_PAPER_TEMPLATE, **overrides})

    def check(self, ctx: Context) -> None:
        llm = self.llm or ctx.llm
        if llm.capabilities.prompt_logprobs is False:
            raise CapabilityError(
                f"TRLM scoring needs prompt logprobs, which {llm.model} cannot give; pass a scoring model "
                "that can (TRLMScorer(llm=LLM('local/...')) or an OpenAI-compatible llama.cpp/vLLM server), "
                "or use LLMJudge"
            )

    def reverse_prompt(self, candidate: Candidate) -> str:
        return self.template.format(response=candidate.text.strip())

    async def score(self, problem: Problem, candidate: Candidate, ctx: Context) -> float | None:
        result = await ctx.score(self.reverse_prompt(candidate), " " + problem.question.strip(), llm=self.llm)
        return result.total

