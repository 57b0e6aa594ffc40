"""Self-consistency (Wang et al. 2023): sample several reasoning paths, vote on their answers."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from ..answers import Vote, vote
from ..core.errors import CapabilityError
from ..core.packages import fewshot_file
from ..core.problem import Candidate, Problem, Result
from .base import Context, Strategy, register
from .cot import ChainOfThought
from .events import SampleAnswered, Votes
from .params import param, settings

__all__ = ["SelfConsistency", "Voting", "draw_samples", "sample_candidate", "abstentions"]


async def draw_samples(
    base: Strategy,
    problem: Problem,
    ctx: Context,
    branches: Sequence[int],
    temperature: float | None,
    *,
    need_logprobs: str | None = None,
    stop: Callable[[Mapping[int, Result]], bool] | None = None,
) -> list[Result]:
    """Run ``base`` once per branch, concurrently (up to the client's concurrency at a time), each
    with its own seed; the results of the branches drawn, in branch order.

    ``stop``, if given, is asked before each branch starts, with the results finished so far (by
    branch): once it says True no branch starts any more, and those in flight finish (DeepConf's
    consensus stop: each trace is judged as it ends, not in waves).

    Anytime: a branch that does not fit the budget comes back as an empty
    ``exhausted`` result instead of raising, and no branch after it is started: the results
    are then those of the first branches only (a prefix of ``branches``). Isolated: a branch whose model call
    still fails after its retries comes back empty and is recorded in
    ``ctx.failures`` (see :meth:`Context.attempt`); callers that end with no
    candidate at all call ``ctx.raise_if_nothing_succeeded``.

    Each finished branch is reported to a streaming caller (:class:`SampleAnswered`, then
    :class:`Votes` over the branches finished so far).

    ``need_logprobs`` names what needs token logprobs (e.g. "weighted self-consistency"):
    every branch then asks for them. Where the backend's support is unknown, branch 0
    goes alone first, and if it comes back without logprobs a :class:`CapabilityError`
    is raised before the other branches are spent.
    """
    branches = list(branches)
    tally: Counter[str] = Counter()
    finished = 0

    async def one(fork: Context, i: int) -> Result | None:
        nonlocal finished
        result = await fork.attempt(fork.delegate(base, problem), f"sample {i}")
        finished += 1
        if result is not None and result.answer is not None:
            tally[result.answer] += 1
        ctx.report(SampleAnswered(i, result.answer if result is not None else None, failed=result is None))
        ctx.report(Votes(dict(tally), finished))
        return result

    async def draw(part: list[int]) -> list[Result]:
        # Branches are made as the budget admits them: at most `window` in flight, none started once
        # one was refused, so time and memory grow with the samples drawn, not with len(branches).
        results: dict[int, Result] = {}
        queue = iter(part)
        refused = False

        async def worker() -> None:
            nonlocal refused
            for i in queue:
                if refused or (stop is not None and stop(results)):
                    refused = True  # for good: the branches drawn stay a prefix
                    return
                fork = ctx.fork(i, temperature=temperature, logprobs=need_logprobs is not None)
                r = await one(fork, i)
                results[i] = r if r is not None else Result(None, strategy=base.name)
                if results[i].exhausted and not results[i].candidates:
                    refused = True
                if refused:
                    return

        window = max(1, min(len(part), ctx.llm.concurrency))
        await asyncio.gather(*(worker() for _ in range(window)))
        return [results[i] for i in part if i in results]

    if need_logprobs is None or ctx.llm.capabilities.logprobs is not None or not branches or branches[0] != 0:
        return await draw(branches)
    first = await draw(branches[:1])
    candidates = [c for c in first[0].candidates if c.text]
    if candidates and all(c.mean_logprob is None for c in candidates):
        raise CapabilityError(
            f"{need_logprobs} needs token logprobs, and {ctx.llm.model} returned none when asked; "
            "use a majority vote or another scorer, or a backend that returns logprobs"
        )
    return first + await draw(branches[1:])


@runtime_checkable
class Voting(Protocol):
    """A strategy that samples its ``base`` and votes: what :func:`~reasoners.solve_batch` drives,
    one problem's samples at a time (``sc`` and ``deepconf``)."""

    base: Strategy
    n: int
    temperature: float
    name: ClassVar[str]

    @property
    def warmup_samples(self) -> int:
        """Samples drawn whole before :meth:`sampling_after` can say anything (DeepConf's warm-up)."""
        ...

    @property
    def needs_logprobs(self) -> str | None:
        """Who needs token logprobs (for the error when a backend gives none), or None."""
        ...

    def sampling_after(self, candidates: list[Candidate]) -> dict[str, Any]:
        """Sampling options for the next samples of a problem, given the ones drawn so far."""
        ...

    def candidates_of(self, results: list[Result], branches: range) -> list[Candidate]:
        """What these samples (their branch numbers beside them) contribute to the vote."""
        ...

    def tally(self, candidates: list[Candidate], problem: Problem) -> Vote:
        """The vote over every candidate drawn for ``problem``."""
        ...


def sample_candidate(result: Result, branch: int) -> Candidate | None:
    """The candidate a sample contributes: its best candidate, carrying the sample's final answer."""
    if not result.candidates:
        return None
    best = result.candidates[0]
    return Candidate(
        text=best.text,
        answer=result.answer,
        logprob=best.logprob,
        mean_logprob=best.mean_logprob,
        score=best.score,
        source=f"{result.strategy}#{branch}",
        metadata=dict(best.metadata),
        reasoning=best.reasoning,
    )


def abstentions(results: list[Result]) -> tuple[int, dict[str, int]]:
    """How many of the samples' runs abstained (no final text to answer from), and why, by reason."""
    reasons: Counter[str] = Counter()
    for r in results:
        for reason, count in (r.metadata.get("abstentions") or {}).items():
            reasons[reason] += count
    return sum(r.abstained for r in results), dict(reasons)


@register("sc")
@settings
class SelfConsistency(Strategy):
    """Sample ``n`` answers from ``base`` (chain of thought by default) and return the most voted.

    - ``vote="majority"`` counts answers; ``"weighted"`` weights each by its length-normalised
      sequence probability exp(mean token logprob) (the paper's "weighted sum, normalized");
      ``"weighted_unnormalized"`` by exp(sum of token logprobs) (its "weighted sum,
      unnormalized"). Both need logprobs: a sample that comes back without them is left out
      of the weighted vote and counted in ``metadata["unweighted"]``; if no sample has them,
      :class:`CapabilityError` (never a silent majority vote). ``.paper()`` votes by majority,
      the paper's main setting.
    - ``temperature`` is passed to base strategies that do not set their own.
    - ``early_stop=True`` samples in waves (of ``wave``, default the client's
      concurrency) and stops once the leader cannot be overtaken by the samples
      left; ``result.metadata["saved"]`` says how many samples that skipped.

    Confidence is the winner's share of the vote.
    """

    base: Strategy = param(factory=ChainOfThought, kw_only=False)
    n: int = param(default=8, ge=1)
    vote: Literal["majority", "weighted", "weighted_unnormalized"] = "majority"
    temperature: float = 0.7
    early_stop: bool = False
    wave: int | None = param(default=None, ge=1)

    @classmethod
    def paper(cls, **overrides: Any) -> SelfConsistency:
        """The paper's setting (Wang et al. 2023): 40 sampled paths at temperature 0.7 from few-shot
        chain of thought (8 worked examples, ``reasoners/data/fewshot/gsm8k_cot.json``), majority
        vote. About 40 times a chain's tokens; a budget caps it (early samples are kept)."""
        settings: dict[str, Any] = {"base": ChainOfThought(demos=fewshot_file("gsm8k_cot.json")), "n": 40,
                                    "temperature": 0.7, "vote": "majority"}
        return cls(**{**settings, **overrides})

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        weighted = self.vote != "majority"
        if weighted and ctx.llm.capabilities.logprobs is False:
            raise CapabilityError(
                f"weighted self-consistency needs token logprobs, which {ctx.llm.model} does not return; "
                "use vote='majority'"
            )
        wave = (self.wave or ctx.llm.concurrency) if self.early_stop else self.n
        candidates: list[Candidate] = []
        drawn_results: list[Result] = []
        drawn, exhausted, decided = 0, False, False
        failed_before = len(ctx.failures)
        while drawn < self.n and not exhausted and not decided:
            batch = range(drawn, min(self.n, drawn + wave))
            results = await draw_samples(self.base, problem, ctx, batch, self.temperature,
                                         need_logprobs="weighted self-consistency" if weighted else None)
            drawn += len(batch)
            drawn_results += results
            exhausted = exhausted or any(r.exhausted for r in results)
            candidates += self.candidates_of(results, batch)
            if self.early_stop:
                decided = _decided(self.tally(candidates, problem), self.n - drawn)
        ctx.raise_if_nothing_succeeded(bool(candidates), failed_before)
        tally = self.tally(candidates, problem)
        abstained, reasons = abstentions(drawn_results)
        meta: dict[str, Any] = {"abstentions": reasons} if abstained else {}
        if weighted:
            answered = [c for c in candidates if c.answer is not None]
            unweighted = sum(1 for c in answered if c.logprob is None)
            if answered and unweighted == len(answered):
                raise CapabilityError(
                    f"weighted self-consistency needs token logprobs, and {ctx.llm.model} returned none for any "
                    "sample; use vote='majority', or a backend that returns logprobs")
            meta["unweighted"] = unweighted
        return Result(
            tally.winner,
            confidence=tally.share,
            candidates=candidates,
            exhausted=exhausted,
            abstained=abstained,
            strategy=self.name,
            metadata={
                "samples": len(candidates),
                "saved": self.n - drawn,
                "tallies": tally.tallies,
                "vote": self.vote,
                **meta,
            },
        )

    # What solve_batch asks of a voting strategy (see Voting):

    @property
    def warmup_samples(self) -> int:
        return 0

    @property
    def needs_logprobs(self) -> str | None:
        return "weighted self-consistency" if self.vote != "majority" else None

    def sampling_after(self, candidates: list[Candidate]) -> dict[str, Any]:
        return {}

    def candidates_of(self, results: list[Result], branches: range) -> list[Candidate]:
        return [c for i, r in zip(branches, results) if (c := sample_candidate(r, i)) is not None]

    def tally(self, candidates: list[Candidate], problem: Problem) -> Vote:
        """The vote over these samples (majority, or weighted by their logprobs)."""
        if self.vote == "majority":
            return vote([c.answer for c in candidates], kind=problem.kind)
        # A sample without logprobs has no weight to give: it is left out, never counted as certain.
        scored = [c for c in candidates if c.logprob is not None and c.mean_logprob is not None]
        if self.vote == "weighted":
            weights = [math.exp(c.mean_logprob or 0.0) for c in scored]
        else:  # exp(sum): relative to the most likely sample, so long chains do not underflow to 0
            top = max((c.logprob or 0.0 for c in scored), default=0.0)
            weights = [math.exp((c.logprob or 0.0) - top) for c in scored]
        return vote([c.answer for c in scored], weights, kind=problem.kind)


def _decided(tally: Vote, remaining: int) -> bool:
    """True when no outcome of the ``remaining`` samples (each worth at most 1) can change the winner."""
    if tally.winner is None:
        return remaining == 0
    ordered = sorted(tally.tallies.values(), reverse=True)
    runner_up = ordered[1] if len(ordered) > 1 else 0.0
    return ordered[0] > runner_up + remaining
