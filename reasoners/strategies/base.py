"""The Strategy contract, the per-run Context passed explicitly to it, and Stage and Pipeline.

A strategy holds configuration only; everything a run needs (client, budget,
trace, retriever, seeded RNG) comes in the :class:`Context`, so one strategy
object can serve many concurrent runs.
"""

from __future__ import annotations

import copy
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

from retrievers import Retriever

from .._sync import run_sync
from ..budget import Budget
from ..errors import AuthError, BudgetExhausted, ConfigError, LLMError
from ..llm.client import LLM
from ..llm.types import Completion, Score
from ..problem import AnswerKind, FailedSample, Problem, Result
from ..trace import Trace, span

__all__ = ["Strategy", "Stage", "Pipeline", "Context", "REGISTRY", "STAGES", "register", "register_stage"]

REGISTRY: dict[str, type[Strategy]] = {}
STAGES: dict[str, type[Stage]] = {}

K = TypeVar("K", bound=type)
T = TypeVar("T")


def registrar(registry: dict[str, Any]) -> Callable[[str], Callable[[K], K]]:
    """A class decorator factory that names a class and files it in ``registry``."""

    def register(name: str) -> Callable[[K], K]:
        def deco(cls: K) -> K:
            setattr(cls, "name", name)
            registry[name] = cls
            return cls

        return deco

    return register


register = registrar(REGISTRY)
"""``@register("name")``: make a strategy available by name to the CLI and specs."""
register_stage = registrar(STAGES)
"""``@register_stage("name")``: make a stage available after ``|`` in specs."""


@dataclass
class Context:
    """What one run carries: the client, its budget, its trace, a retriever and a seeded RNG."""

    llm: LLM
    budget: Budget
    trace: Trace
    retriever: Retriever | None = None
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random)
    temperature: float | None = None  # sampling temperature for strategies that set none themselves
    logprobs: bool = False  # a caller needs token logprobs: generating strategies must ask for them
    failures: list[FailedSample] = field(default_factory=list)  # the run's failed branches, shared by its forks

    def fork(
        self, branch: int, *, budget: Budget | None = None, temperature: float | None = None, logprobs: bool = False
    ) -> Context:
        """A context for a parallel branch: its own seed (so samples differ), optionally its own
        sub-budget, a sampling temperature for strategies that do not set one, and whether the
        branch's generations must carry token logprobs (for a weighted vote or a likelihood scorer)."""
        seed = self.seed * 1_000_003 + branch
        return replace(
            self,
            seed=seed,
            rng=random.Random(seed),
            budget=budget or self.budget,
            temperature=self.temperature if temperature is None else temperature,
            logprobs=self.logprobs or logprobs,
        )

    async def generate(self, prompt: Any, **options: Any) -> list[Completion]:
        """``llm.agenerate`` charged to this run's budget. Of several samples, those that still fail
        after their retries are recorded as failed samples and left out (see :meth:`attempt`)."""
        return await self.llm.agenerate(prompt, budget=self.budget, failed=self.failures, **options)

    async def attempt(self, branch: Awaitable[T], where: str) -> T | None:
        """Await one branch of the run (a sample, a chain, a node's answer) in isolation.

        If a model call in it still fails after its retries, the branch becomes a failed sample:
        recorded in :attr:`failures` (so the result says it is degraded) and None is returned,
        so the strategy answers from the other branches. An :class:`AuthError` still stops the
        run, and so do everything but :class:`LLMError` (budget, capability, configuration).
        """
        try:
            return await branch
        except AuthError:
            raise
        except LLMError as e:
            self.failures.append(FailedSample(where, e))
            return None

    def raise_if_nothing_succeeded(self, succeeded: bool, since: int) -> None:
        """A run fails only when nothing succeeded: if ``succeeded`` is false and branches failed
        since ``since`` (``len(ctx.failures)`` when the strategy began), raise the first one's error."""
        if not succeeded and len(self.failures) > since:
            raise self.failures[since].error

    async def score(self, prompt: str, continuation: str, *, llm: LLM | None = None) -> Score:
        """``llm.ascore`` charged to this run's budget."""
        return await (llm or self.llm).ascore(prompt, continuation, budget=self.budget)

    async def solve(self, strategy: Strategy, problem: Problem) -> Result:
        """Run a (sub-)strategy in its own trace span. Anytime: running out of budget
        returns an empty, ``exhausted`` result instead of raising."""
        with span("strategy", strategy.name, config=strategy.config()):
            try:
                result = await strategy.solve(problem, self)
            except BudgetExhausted as e:
                result = Result(None, exhausted=True, metadata={"budget": e.limit})
        result.strategy = result.strategy or strategy.name
        return result


class Strategy(ABC):
    """A test-time reasoning strategy: ``await strategy.solve(problem, ctx)`` returns a :class:`Result`.

    Use ``run``/``arun`` to solve one question with a client and an optional budget.
    """

    name: ClassVar[str] = "strategy"

    @abstractmethod
    async def solve(self, problem: Problem, ctx: Context) -> Result:
        """Solve ``problem`` using only ``ctx`` (no per-run state on ``self``)."""

    def config(self) -> dict[str, Any]:
        """The strategy's parameters, for traces and specs."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    async def prepare(self, ctx: Context) -> Strategy:
        """This strategy made ready to solve on ``ctx.llm``, as a new object (``self`` when nothing
        needs doing): the work to do once before many problems, such as AutoCoT's demos, charged
        to ``ctx``. The default prepares the strategies this one holds (a base, stages)."""
        changed: dict[str, Any] = {}
        for name, value in vars(self).items():
            if isinstance(value, Strategy):
                ready = await value.prepare(ctx)
                if ready is not value:
                    changed[name] = ready
            elif isinstance(value, list) and any(isinstance(v, Strategy) for v in value):
                items = [await v.prepare(ctx) if isinstance(v, Strategy) else v for v in value]
                if any(a is not b for a, b in zip(items, value)):
                    changed[name] = items
        if not changed:
            return self
        clone = copy.copy(self)
        clone.__dict__.update(changed)
        return clone

    async def aprepared(self, *, llm: LLM, budget: Budget | None = None, seed: int = 0) -> tuple[Strategy, Result]:
        """:meth:`prepare` in a run of its own, as harness, CLI and server call it: the prepared
        strategy, and a :class:`Result` with what preparing spent (``usage``) and its trace."""
        run_budget = (budget if budget is not None else Budget()).child()
        trace = Trace(f"{self.name}.prepare", model=llm.model, seed=seed)
        ctx = Context(llm=llm, budget=run_budget, trace=trace, seed=seed, rng=random.Random(seed))
        with trace.activate():
            ready = await self.prepare(ctx)
        return ready, Result(answer=None, strategy=self.name, usage=run_budget.used, trace=trace.to_dict())

    def __or__(self, stage: Stage) -> Pipeline:
        """``strategy | stage``: a :class:`Pipeline`."""
        return Pipeline(self, [stage])

    async def arun(
        self,
        question: str | Problem,
        *,
        llm: LLM,
        budget: Budget | None = None,
        retriever: Retriever | None = None,
        seed: int = 0,
        kind: AnswerKind | None = None,
        trace: Trace | None = None,
    ) -> Result:
        """Solve one question. ``result.usage`` is exactly what this run spent; ``result.trace`` its call tree.

        Pass ``trace`` to record into your own :class:`Trace` (e.g. one with a listener).
        """
        if not isinstance(llm, LLM):
            raise ConfigError(f"llm must be a reasoners.LLM, got {type(llm).__name__}")
        if isinstance(question, Problem):
            problem = question if kind is None else replace(question, kind=kind)
        else:
            problem = Problem(question, kind=kind or "number")
        run_budget = (budget if budget is not None else Budget()).child()
        trace = trace or Trace(self.name, model=llm.model, seed=seed)
        ctx = Context(llm=llm, budget=run_budget, trace=trace, retriever=retriever, seed=seed, rng=random.Random(seed))
        with trace.activate():
            result = await ctx.solve(self, problem)
        if run_budget.over_limit:  # a reply longer than its max_tokens took the run past its budget
            result.exhausted = True
        if ctx.failures:
            result.degraded = True
            result.metadata["failed_samples"] = [f.to_dict() for f in ctx.failures]
        result.usage = run_budget.used
        result.trace = trace.to_dict()
        return result

    def run(
        self,
        question: str | Problem,
        *,
        llm: LLM,
        budget: Budget | None = None,
        retriever: Retriever | None = None,
        seed: int = 0,
        kind: AnswerKind | None = None,
    ) -> Result:
        """Sync twin of :meth:`arun`."""
        return run_sync(
            self.arun(question, llm=llm, budget=budget, retriever=retriever, seed=seed, kind=kind),
            async_name="arun",
        )


class Stage(ABC):
    """A step after generation. ``apply`` must not mutate its input."""

    name = "stage"

    def check(self, ctx: Context) -> None:
        """Raise before anything is spent if this stage cannot run here."""

    @abstractmethod
    async def apply(self, result: Result, problem: Problem, ctx: Context) -> Result: ...

    def config(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}


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
