"""One total budget over a batch of questions: more samples where the answers disagree.

:func:`solve_batch` runs a voting strategy (self-consistency, or DeepConf with its confidence
filter and online cut) over many problems under one
:class:`~reasoners.core.budget.Budget`. ``allocate="uniform"`` is today's SC@k with
the total split evenly (each of N problems gets 1/N of it). ``"adaptive"`` first
draws a small wave for every problem, then spends the rest, one sample at a time
per chosen problem, on the problems whose vote is least settled, until each is
settled, capped, or the budget is spent.

How unsettled a vote is (``rule``):

- ``"margin"`` (the default): the leader's lead in votes. The smallest lead is the
  least settled; a lead of ``margin`` (3) settles. It is the rule SC's own early
  stopping reasons with, and it measured better (``docs/allocation.md``).
- ``"beta"``: the chance that the runner-up, not the leader, is the plurality answer
  of the model's distribution, under a uniform prior on the two answers' share:
  P(q > 1/2) for q ~ Beta(runner-up + 1, leader + 1). It is 0.5 for a tie and falls
  with the margin *and* with the votes cast; settled below ``threshold`` (0.05, that
  is 5-0 or 7-1 ...). It keeps sampling contested problems longer than the margin rule.

Samples are the strategy's own branches 0, 1, 2, ... (seeded as
:class:`~reasoners.strategies.sampling.SelfConsistency` seeds them), so a batch
replays SC@k's cached samples exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..core.budget import Budget, Meter, meter_for
from ..core.errors import ConfigError
from ..core.problem import Candidate, Problem, Result
from ..core.trace import Trace, span
from ..llm.client import LLM
from .base import Context
from .sampling import Voting, draw_samples

__all__ = ["solve_batch", "unsettled"]

Rule = Literal["beta", "margin"]


def _prompt_tokens(strategy: Voting, problem: Problem, llm: LLM) -> int:
    """The prompt of one sample: the base's messages where it has them, else the question."""
    messages = getattr(strategy.base, "messages", None)
    return llm.count_tokens(messages(problem) if callable(messages) else problem.question)


def unsettled(counts: Sequence[int], rule: Rule = "beta") -> float:
    """How far a vote with these answer counts is from settled (higher: less settled)."""
    ordered = sorted(counts, reverse=True) + [0, 0]
    leader, runner = ordered[0], ordered[1]
    if rule == "margin":
        return -float(leader - runner)
    from scipy.special import betainc

    # P(q > 1/2) for q ~ Beta(runner + 1, leader + 1): 1 - I_{1/2}(runner + 1, leader + 1)
    return float(1.0 - betainc(runner + 1, leader + 1, 0.5))


@dataclass
class _Item:
    problem: Problem
    ctx: Context
    candidates: list[Candidate] = field(default_factory=list)
    drawn: int = 0
    waves: list[int] = field(default_factory=list)
    stopped: str | None = None
    exhausted: bool = False

    def counts(self) -> list[int]:
        tally: dict[str, int] = {}
        for c in self.candidates:
            if c.answer is not None:
                tally[c.answer] = tally.get(c.answer, 0) + 1
        return list(tally.values())


async def solve_batch(
    strategy: Voting,
    problems: Sequence[Problem | str],
    *,
    llm: LLM,
    budget: Budget | Meter,
    allocate: Literal["uniform", "adaptive"] = "adaptive",
    first_wave: int = 2,
    cap: int | None = None,
    rule: Rule = "margin",
    threshold: float = 0.05,
    margin: int = 3,
    seed: int = 0,
) -> list[Result]:
    """One :class:`Result` per problem, all under ``budget`` (its token limit is the batch's total).

    ``strategy`` votes over samples of its base (:class:`~reasoners.strategies.sampling.Voting`:
    ``sc``, ``deepconf``): its vote decides, its ``n`` is the per-problem cap unless ``cap`` is
    given, and DeepConf's online mode draws its warm-up traces whole before any sample is cut. Uniform is today's behaviour
    under the same total: each problem runs SC with ``cap`` samples in its 1/N share. Adaptive
    gives each ``first_wave`` samples, then one more at a time to the least settled
    problems (``rule``; at most ``llm.concurrency`` at once), until each is settled,
    capped, or the total cannot pay another whole sample (its prompt plus ``max_tokens``). Too small a total to pay every problem's first wave is a
    :class:`ConfigError` before anything is spent. ``metadata["allocation"]`` of each result
    records its waves, samples and why it stopped.
    """
    if not isinstance(strategy, Voting):
        raise ConfigError(f"solve_batch allocates samples of a voting strategy (sc, deepconf), not "
                          f"{type(strategy).__name__}: other strategies draw no waves")
    if allocate not in ("uniform", "adaptive") or rule not in ("beta", "margin"):
        raise ConfigError("allocate must be 'uniform' or 'adaptive', and rule 'beta' or 'margin'")
    items_problems = [p if isinstance(p, Problem) else Problem(p) for p in problems]
    if not items_problems:
        return []
    cap = cap or strategy.n
    budget = meter_for(budget)  # one count for the whole batch
    if not 1 <= first_wave <= cap:
        raise ConfigError(f"first_wave must be between 1 and the cap ({cap}); got {first_wave}")
    first_wave = min(cap, max(first_wave, strategy.warmup_samples))  # DeepConf sets its cut from these
    # A sample costs at most its prompt plus max_tokens: the first waves must fit before any is spent.
    per_sample = [_prompt_tokens(strategy, p, llm) + llm.options.max_tokens for p in items_problems]
    start = first_wave if allocate == "adaptive" else 1
    minimum = start * sum(per_sample)
    left = budget.tokens_left()
    if left is not None and left < minimum:
        raise ConfigError(f"a total of {left} tokens cannot pay {start} sample(s) of each of the {len(items_problems)} "
                          f"problems; give at least {minimum}")
    # Uniform is today's SC@cap with the total split evenly; adaptive draws every sample from the total.
    budgets = budget.split(len(items_problems)) if allocate == "uniform" else [budget] * len(items_problems)
    items = [_Item(p, Context(llm=llm, budget=b, trace=Trace(strategy.name, model=llm.model, seed=seed),
                              seed=seed)) for p, b in zip(items_problems, budgets)]

    async def draw(item: _Item, count: int) -> None:
        branches = range(item.drawn, min(cap, item.drawn + count))
        if not branches:
            return
        ctx = item.ctx.with_sampling(strategy.sampling_after(item.candidates))
        with item.ctx.trace.activate():
            results = await draw_samples(strategy.base, item.problem, ctx, branches, strategy.temperature,
                                         need_logprobs=strategy.needs_logprobs)
        item.drawn += len(branches)
        item.waves.append(len(branches))
        item.exhausted = item.exhausted or any(r.exhausted for r in results)
        item.candidates += strategy.candidates_of(results, branches)

    def settled(item: _Item) -> bool:
        if item.drawn >= cap:
            item.stopped = item.stopped or "cap"
            return True
        counts = item.counts()
        done = (unsettled(counts, "beta") < threshold if rule == "beta"
                else (sorted(counts, reverse=True) + [0, 0])[0] - (sorted(counts, reverse=True) + [0, 0])[1] >= margin)
        if done and counts:
            item.stopped = item.stopped or "settled"
        return done and bool(counts)

    if allocate == "uniform":
        warm = strategy.warmup_samples
        await asyncio.gather(*(draw(item, warm) for item in items))
        await asyncio.gather(*(draw(item, cap - warm) for item in items))
        for item in items:
            item.stopped = "budget" if item.exhausted else "cap"
    else:
        await asyncio.gather(*(draw(item, first_wave) for item in items))
        while True:
            open_items = [it for it in items if not it.exhausted and not settled(it)]
            if not open_items or budget.exhausted:
                break
            open_items.sort(key=lambda it: (-unsettled(it.counts(), rule), it.drawn, items.index(it)))
            # Only samples the budget can pay in full: one cut off at the limit rarely votes.
            room = budget.tokens_left()
            chosen = []
            for it in open_items[: llm.concurrency]:
                cost = per_sample[items.index(it)]
                if room is not None and cost > room:
                    continue
                chosen.append(it)
                room = None if room is None else room - cost
            if not chosen:
                break
            before = sum(it.drawn for it in items)
            await asyncio.gather(*(draw(it, 1) for it in chosen))
            if sum(it.drawn for it in items) == before:
                break
        for item in items:
            if item.stopped is None:
                item.stopped = "budget"
    out = []
    for item in items:
        tally = strategy.tally(item.candidates, item.problem)
        allocation = {"allocate": allocate, "rule": rule if allocate == "adaptive" else None, "waves": item.waves,
                      "drawn": item.drawn, "stopped": item.stopped, "unsettled": unsettled(item.counts(), rule)}
        with item.ctx.trace.activate(), span("batch.allocation", strategy.name, **allocation):
            pass  # the decisions, in the trace beside the calls they made
        out.append(Result(
            tally.winner, confidence=tally.share, candidates=item.candidates,
            exhausted=item.exhausted or item.stopped == "budget",
            strategy=strategy.name, usage=item.ctx.trace.root.call_usage(), trace=item.ctx.trace.to_dict(),
            metadata={"samples": len(item.candidates), "tallies": tally.tallies,
                      "vote": getattr(strategy, "vote", strategy.name), "allocation": allocation}))
        if item.ctx.failures:
            out[-1].degraded = True
            out[-1].metadata["failed_samples"] = [f.to_dict() for f in item.ctx.failures]
    return out
