"""Stages and pipelines: ``generator | stage | stage`` under one budget and one trace.

A :class:`Stage` maps a Result (its candidates) to a new Result: re-rank,
verify, revise. ``strategy | stage`` makes a :class:`Pipeline`, itself a
strategy, so pipelines nest and run like any other.
"""

from __future__ import annotations

from dataclasses import replace

from .errors import BudgetExhausted, ConfigError
from .problem import Problem, Result
from .strategies.base import Context, Stage, Strategy
from .trace import span

__all__ = ["Stage", "Pipeline"]


class Pipeline(Strategy):
    """Run ``generator``, then each stage on its result, all under the caller's one budget.

    ``shares`` (one weight per step, generator first) splits the token budget:
    each step may use its weight's share of what is left when it starts, so a
    step that spends less leaves the rest to the steps after it. Anytime: if a
    stage runs out of budget, the result so far is returned with ``exhausted=True``.
    """

    name = "pipeline"

    def __init__(self, generator: Strategy, stages: list[Stage], *, shares: list[float] | None = None) -> None:
        if shares is not None and (len(shares) != len(stages) + 1 or any(w <= 0 for w in shares)):
            raise ConfigError(f"Pipeline shares need one positive weight per step ({len(stages) + 1}); got {shares}")
        self.generator = generator
        self.stages = list(stages)
        self.shares = shares

    def __or__(self, stage: Stage) -> Pipeline:
        return Pipeline(self.generator, [*self.stages, stage])

    def _step_context(self, ctx: Context, step: int) -> Context:
        if self.shares is None:
            return ctx
        left = ctx.budget.tokens_left()
        weight = self.shares[step] / sum(self.shares[step:])
        return replace(ctx, budget=ctx.budget.child(tokens=None if left is None else int(left * weight)))

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        for stage in self.stages:
            stage.check(ctx)
        result = await self._step_context(ctx, 0).solve(self.generator, problem)
        for i, stage in enumerate(self.stages, 1):
            if result.exhausted:
                break
            with span("stage", stage.name, config=stage.config()):
                try:
                    result = await stage.apply(result, problem, self._step_context(ctx, i))
                except BudgetExhausted:
                    result.exhausted = True
        return result
