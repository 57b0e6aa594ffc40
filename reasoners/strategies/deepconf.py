"""DeepConf (Fu et al. 2025, "Deep Think with Confidence"): confidence-filtered voting, offline and online.

Every trace is read with its token logprobs (the top ``top_k`` at each position), and scored by
a trace confidence (:mod:`reasoners.llm.confidence`).

- **offline**: draw ``n`` traces, keep the ``eta`` percent most confident, and vote over the kept
  ones, each vote weighted by its confidence.
- **online**: draw ``warmup`` traces whole; the threshold is the ``100 - eta`` percentile of their
  lowest group confidences. Every later trace is generated with the cut
  (``stop_below=(window, threshold)``): the moment its group confidence falls below the
  threshold it is stopped, charged exactly the tokens it generated, kept (marked ``cut``) and
  never votes. Sampling stops once the leading answer holds ``consensus`` of the weighted vote,
  after ``n`` traces, or when the budget ends.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from ..answers import Vote, vote
from ..core.errors import CapabilityError, ConfigError
from ..core.problem import Candidate, Problem, Result
from ..llm.confidence import Measure, group_confidences, trace_confidence
from .base import Context, Strategy, register
from .cot import ChainOfThought
from .params import param, settings
from .sampling import abstentions, draw_samples, sample_candidate

__all__ = ["DeepConf"]


@register("deepconf")
@settings
class DeepConf(Strategy):
    """Confidence-filtered self-consistency with early stopping (see the module docstring).

    - ``n``: traces at most; ``mode``: ``"offline"`` or ``"online"``.
    - ``eta``: the percent of traces kept (offline) or the percentile setting the cut (online):
      10 is the paper's DeepConf-low (aggressive), 90 DeepConf-high.
    - ``measure``: the trace confidence used to filter and weigh (``bottom10``, ``lowest``,
      ``tail``, ``mean``); online mode sets its threshold from the lowest group, as the paper.
    - ``window``: tokens per group (the paper's 2048 is for traces of tens of thousands of tokens;
      the default suits answers of a few hundred); ``top_k``: logprobs per position.
    - ``warmup``, ``consensus``: online mode's warm-up traces and stopping share.
    """

    base: Strategy = param(factory=ChainOfThought, kw_only=False)
    n: int = param(default=16, ge=1)
    mode: Literal["offline", "online"] = "offline"
    eta: float = param(default=10.0, gt=0)  # a percent, at most 100
    measure: Measure = "bottom10"
    window: int = param(default=32, ge=1)
    top_k: int = param(default=5, ge=1)  # at most 20
    warmup: int = param(default=4, ge=1)
    consensus: float = param(default=0.95, gt=0)  # at most 1
    temperature: float = 0.7

    def __post_init__(self) -> None:
        if self.eta > 100:
            raise ConfigError(f"DeepConf eta must be a percent in (0, 100]; got {self.eta!r}")
        if self.top_k > 20:
            raise ConfigError(f"DeepConf top_k must be from 1 to 20; got {self.top_k!r}")
        if self.consensus > 1:
            raise ConfigError(f"DeepConf consensus must be in (0, 1]; got {self.consensus!r}")
        super().__post_init__()

    @classmethod
    def paper(cls, **overrides: Any) -> DeepConf:
        """The paper's online setting (DeepConf@512): 512 traces at most, 16 warm-up traces, the
        lowest group of 2048 tokens, DeepConf-low (eta 10), consensus 0.95, top-20 logprobs."""
        settings: dict[str, Any] = {"n": 512, "mode": "online", "eta": 10.0, "measure": "lowest", "window": 2048,
                                    "top_k": 20, "warmup": 16, "consensus": 0.95}
        return cls(**{**settings, **overrides})

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        if ctx.llm.capabilities.logprobs is False:
            raise CapabilityError(
                f"DeepConf reads token logprobs, which {ctx.llm.model} does not return; use sc (a majority "
                "vote), the adaptive allocator (solve_batch) or a backend with logprobs")
        failed_before = len(ctx.failures)
        first = self.n if self.mode == "offline" else min(self.warmup, self.n)
        results = await self._draw(problem, ctx, range(first), self.sampling_after([]))
        traces = self.candidates_of(results, range(first))
        drawn = first
        if self.mode == "online" and drawn < self.n and not any(r.exhausted for r in results):
            if self._threshold(traces) is None:  # no logprobs came back: say so before drawing more
                raise CapabilityError(f"{ctx.llm.model} returned no token logprobs when asked; DeepConf needs them")
            judged: dict[int, Candidate | None] = {}  # each trace read once, as it ends

            def read(i: int, r: Result) -> Candidate | None:
                if i not in judged:
                    judged[i] = next(iter(self.candidates_of([r], range(i, i + 1))), None)
                return judged[i]

            def settled(done: Mapping[int, Result]) -> bool:
                finished = [c for i, r in done.items() if (c := read(i, r)) is not None]
                return self._settled(traces + finished, problem)

            rest = range(drawn, self.n)
            more = await draw_samples(self.base, problem, ctx.with_sampling(self.sampling_after(traces)), rest,
                                      self.temperature, need_logprobs="DeepConf", stop=settled)
            traces += [c for i, r in zip(rest, more) if (c := read(i, r)) is not None]
            results += more
            drawn += len(more)
        ctx.raise_if_nothing_succeeded(bool(traces), failed_before)
        if not any(c.metadata.get("confidence") is not None for c in traces if c.answer is not None) and any(
                c.answer is not None for c in traces):
            raise CapabilityError(f"{ctx.llm.model} returned no token logprobs when asked; DeepConf needs them")
        threshold = self._threshold(traces)
        kept = self._kept(traces, threshold)
        tally = self.tally(traces, problem)
        abstained, reasons = abstentions(results)
        cut = sum(1 for c in traces if c.metadata.get("cut"))
        return Result(
            tally.winner, confidence=tally.share, candidates=traces, exhausted=any(r.exhausted for r in results),
            abstained=abstained, strategy=self.name,
            metadata={"mode": self.mode, "traces": len(traces), "kept": len(kept), "cut": cut,
                      "threshold": threshold, "saved": self.n - drawn, "tallies": tally.tallies,
                      **({"abstentions": reasons} if reasons else {})})

    async def _draw(self, problem: Problem, ctx: Context, branches: range, sampling: dict[str, Any]) -> list[Result]:
        sub = ctx.with_sampling(sampling)
        return await draw_samples(self.base, problem, sub, branches, self.temperature, need_logprobs="DeepConf")

    # What solve_batch asks of a voting strategy (see reasoners.strategies.sampling.Voting):

    @property
    def warmup_samples(self) -> int:
        return min(self.warmup, self.n) if self.mode == "online" else 0

    @property
    def needs_logprobs(self) -> str | None:
        return "DeepConf"

    def sampling_after(self, candidates: list[Candidate]) -> dict[str, Any]:
        """Top-k logprobs always; online, once the warm-up traces are in, the cut at their threshold."""
        sampling: dict[str, Any] = {"top_logprobs": self.top_k}
        warm = self.warmup_samples
        threshold = self._threshold(candidates)
        if threshold is not None and sum(1 for c in candidates if c.metadata.get("branch", warm) < warm) >= warm:
            sampling["stop_below"] = (self.window, threshold)
        return sampling

    def candidates_of(self, results: list[Result], branches: range) -> list[Candidate]:
        """Each trace with its confidence (``confidence``, ``lowest_group``, ``tokens``, ``cut``)."""
        out = []
        for i, r in zip(branches, results):
            c = sample_candidate(r, i)
            if c is None:
                continue
            tokens = c.metadata.pop("token_logprobs", None) or []
            groups = group_confidences(tokens, self.window)
            c.metadata.update(
                branch=i,
                confidence=trace_confidence(tokens, self.measure, self.window),
                lowest_group=min(groups) if groups else None,
                tokens=len(tokens),
                cut=c.metadata.get("finish_reason") == "confidence",
            )
            if c.metadata["cut"]:
                c.answer = None  # stopped mid-thought: it never votes
            out.append(c)
        return out

    def tally(self, candidates: list[Candidate], problem: Problem) -> Vote:
        """The confidence-weighted vote of the kept traces."""
        kept = self._kept(candidates, self._threshold(candidates))
        return vote([c.answer for c in kept], [c.metadata["confidence"] for c in kept], kind=problem.kind)

    def _threshold(self, traces: list[Candidate]) -> float | None:
        """Online mode's cut: the ``100 - eta`` percentile of the warm-up traces' lowest groups (None
        offline, when every trace is a warm-up one, or before any warm-up trace has logprobs)."""
        warm = self.warmup_samples
        if not warm or self.n <= warm:
            return None
        lows = [c.metadata["lowest_group"] for c in traces
                if c.metadata.get("branch", warm) < warm and c.metadata.get("lowest_group") is not None]
        return _percentile(lows, 100 - self.eta) if lows else None

    def _kept(self, traces: list[Candidate], threshold: float | None) -> list[Candidate]:
        voters = [c for c in traces if c.answer is not None and c.metadata.get("confidence") is not None]
        if threshold is not None:  # online: every finished trace passed the cut; warm-up ones are filtered too
            return [c for c in voters if (c.metadata.get("lowest_group") or 0.0) >= threshold] or voters
        ranked = sorted(voters, key=lambda c: -c.metadata["confidence"])
        return ranked[: max(1, math.ceil(len(ranked) * self.eta / 100))]

    def _settled(self, traces: list[Candidate], problem: Problem) -> bool:
        """The consensus test, over every finished trace so far (the cut ones have no answer),
        each weighted by its confidence, as the paper checks it after each trace."""
        done = [c for c in traces if c.answer is not None and c.metadata.get("confidence") is not None]
        if not done:
            return False
        tally = vote([c.answer for c in done], [c.metadata["confidence"] for c in done], kind=problem.kind)
        return tally.winner is not None and tally.share >= self.consensus


def _percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linear between ranks."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
