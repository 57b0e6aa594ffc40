"""Stages and pipelines: ``generator | stage | stage`` under one budget and one trace.

A :class:`Stage` maps a Result (its candidates) to a new Result: re-rank,
verify, revise. ``strategy | stage`` makes a :class:`Pipeline`, itself a
strategy, so pipelines nest and run like any other.
"""

from __future__ import annotations

from .errors import BudgetExhausted
from .problem import Problem, Result
from .strategies.base import Context, Stage, Strategy
from .trace import span

__all__ = ["Stage", "Pipeline"]


class Pipeline(Strategy):
    """Run ``generator``, then each stage on its result. Anytime: if a stage runs out of
    budget, the result so far is returned with ``exhausted=True``."""

    name = "pipeline"

    def __init__(self, generator: Strategy, stages: list[Stage]) -> None:
        self.generator = generator
        self.stages = list(stages)

    def __or__(self, stage: Stage) -> Pipeline:
        return Pipeline(self.generator, [*self.stages, stage])

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        for stage in self.stages:
            stage.check(ctx)
        result = await ctx.solve(self.generator, problem)
        for stage in self.stages:
            if result.exhausted:
                break
            with span("stage", stage.name, config=stage.config()):
                try:
                    result = await stage.apply(result, problem, ctx)
                except BudgetExhausted:
                    result.exhausted = True
        return result
