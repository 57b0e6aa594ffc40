"""Best-of-N: sample N candidates, score each, keep the best; and TRLM re-ranking as a stage."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any, Literal

from ..answers import normalize, same_answer
from ..core.problem import AnswerKind, Candidate, Problem, Result
from .base import Context, Stage, Strategy, register, register_stage
from .cot import ChainOfThought
from .params import param, settings
from .sampling import abstentions, draw_samples, sample_candidate
from .scorers import Scorer, TRLMScorer

__all__ = ["BestOfN", "TRLMRerank", "rank"]

Ties = Literal["first", "vote"]


def rank(
    candidates: list[Candidate],
    scores: list[float | None],
    *,
    ties: Ties = "first",
    kind: AnswerKind = "number",
) -> list[Candidate]:
    """Candidates with their scores set, best first. Unscored ones go last.

    Equal scores keep sample order (``ties="first"``) or, with ``ties="vote"``, put first
    the answer more candidates agree on (then sample order).
    """
    scored = [replace(c, score=s) for c, s in zip(candidates, scores)]
    keys = [normalize(c.answer, kind) for c in scored]
    votes: Counter[str | None] = Counter(k for k in keys if k is not None) if ties == "vote" else Counter()
    order = sorted(
        range(len(scored)),
        key=lambda i: (scored[i].score is None, -(scored[i].score or 0.0), -votes[keys[i]], i),
    )
    return [scored[i] for i in order]


def _result_from_ranked(ranked: list[Candidate], problem: Problem, name: str, **meta: object) -> Result:
    # If every score failed, ranking kept sample order: fall back to the first sample.
    answer = ranked[0].answer if ranked else None
    # Confidence: the share of scored candidates that agree with the chosen answer.
    scored = [c for c in ranked if c.score is not None]
    agree = sum(1 for c in scored if same_answer(c.answer, answer, problem.kind))
    confidence = agree / len(scored) if scored and answer is not None else 0.0
    return Result(answer, confidence=confidence, candidates=ranked, strategy=name, metadata=dict(meta))


@register("bon")
@settings
class BestOfN(Strategy):
    """Sample ``n`` candidates from ``base`` and return the one ``scorer`` rates highest.

    Scorers: ``Verifier(fn)``, ``LLMJudge()``, ``MeanLogprob()``, ``TRLMScorer()``
    (see ``reasoners.strategies.scorers``). Equal scores go to the answer most candidates
    agree on (``ties="vote"``, the default: scorers with few distinct values, a judge
    that rates most candidates 10 or a pass/fail verifier, then fall back to the
    vote), or with ``ties="first"`` to the earlier sample.
    Candidates a scorer fails on rank last. Confidence is the share of scored
    candidates that agree with the chosen answer.
    """

    base: Strategy = param(factory=ChainOfThought, kw_only=False)
    n: int = param(default=8, ge=1)
    scorer: Scorer = param(factory=TRLMScorer)
    temperature: float = 0.7
    ties: Ties = "vote"

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        self.scorer.check(ctx)
        need = f"best-of-N with the {self.scorer.name} scorer" if self.scorer.needs_logprobs else None
        failed_before = len(ctx.failures)
        results = await draw_samples(self.base, problem, ctx, range(self.n), self.temperature, need_logprobs=need)
        drawn = [c for i, r in enumerate(results) if (c := sample_candidate(r, i)) is not None]
        ctx.raise_if_nothing_succeeded(bool(drawn), failed_before)
        exhausted = any(r.exhausted for r in results)
        # A sample with no final text (a reasoning model cut off while thinking) abstains: it is
        # neither scored nor chosen, and is kept last.
        candidates = [c for c in drawn if not c.metadata.get("abstained")]
        scores = await self.scorer.score_all(problem, candidates, ctx) if candidates else []
        ranked = rank(candidates, scores, ties=self.ties, kind=problem.kind)
        result = _result_from_ranked(ranked + [c for c in drawn if c.metadata.get("abstained")], problem,
                                     self.name, scorer=self.scorer.name)
        result.exhausted = exhausted
        result.abstained, reasons = abstentions(results)
        if reasons:
            result.metadata["abstentions"] = reasons
        return result


@register_stage("trlm")
@settings
class TRLMRerank(Stage):
    """Re-rank any Result's candidates by TRLM reverse score: ``SelfConsistency(n=8) | TRLMRerank()``.

    Ties follow :class:`BestOfN`'s rule (``ties="vote"``: the answer most candidates agree on,
    then the earlier sample; ``"first"``: the earlier sample)."""

    scorer: TRLMScorer = param(factory=TRLMScorer, kw_only=False)
    ties: Ties = "vote"

    @classmethod
    def paper(cls, **overrides: Any) -> TRLMRerank:
        """Re-ranking with the paper's TRLM-Fo scorer (:meth:`TRLMScorer.paper`); ``trlm.paper`` in specs."""
        return cls(**{"scorer": TRLMScorer.paper(), **overrides})

    def check(self, ctx: Context) -> None:
        self.scorer.check(ctx)

    async def apply(self, result: Result, problem: Problem, ctx: Context) -> Result:
        if not result.candidates:
            return result
        scores = await self.scorer.score_all(problem, result.candidates, ctx)
        out = _result_from_ranked(rank(result.candidates, scores, ties=self.ties, kind=problem.kind), problem,
                                  f"{result.strategy}|trlm")
        # The input's vote no longer decided the answer: keep it apart, under what it chose.
        voted = {k: result.metadata[k] for k in _VOTE_KEYS if k in result.metadata}
        kept = {k: v for k, v in result.metadata.items() if k not in _VOTE_KEYS}
        out.metadata = {**kept, "reranked_by": "trlm",
                        "before_rerank": {"answer": result.answer, "confidence": result.confidence, **voted}}
        return out


_VOTE_KEYS = ("tallies", "vote")
