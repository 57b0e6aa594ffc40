"""The Strategy contract, the per-run Context passed explicitly to it, and Stage and Pipeline.

A strategy holds configuration only; everything a run needs (client, budget,
trace, retriever, seeded RNG) comes in the :class:`Context`, so one strategy
object can serve many concurrent runs.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

from retrievers import Retriever

from ..answers import infer_kind
from ..core.budget import Budget, Meter, meter_for
from ..core.errors import (
    AuthError,
    BudgetExhausted,
    ConfigError,
    LLMError,
    ReasonersError,
    SamplesFailed,
)
from ..core.problem import AnswerKind, FailedSample, Problem, Result
from ..core.sync import run_sync
from ..core.trace import Span, Trace, span
from ..llm.client import LLM
from ..llm.options import SamplingArgs, sampling_args, to_messages
from ..llm.reasoning import ReasoningDelta
from ..llm.types import Completion, Score
from .events import CallFinished, CallStarted, Event, Finished, ReasoningText, TextDelta
from .params import check_fields, param, settings

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


def config_of(obj: Any) -> dict[str, Any]:
    """A strategy's, stage's or scorer's settings: its dataclass fields (a class that is not a
    dataclass: its public attributes)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.init}
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def summary_of(obj: Any) -> dict[str, Any]:
    """:func:`config_of` as a trace shows it: nested strategies as their own summaries, a
    sequence read from a file as that file, a long one as its length, other objects by class."""
    out: dict[str, Any] = {}
    for key, value in config_of(obj).items():
        if hasattr(value, "config") and callable(value.config) and hasattr(value, "name"):
            out[key] = {"name": value.name, **summary_of(value)}
        elif isinstance(value, (list, tuple)) and getattr(value, "path", None):
            out[key] = getattr(value, "path")
        elif isinstance(value, (list, tuple)) and len(value) > 8:
            out[key] = f"{len(value)} items"
        elif value is None or isinstance(value, (str, int, float, bool, list, tuple, dict)):
            out[key] = value
        else:
            out[key] = type(value).__name__
    return out


def join_conversation(conversation: list[dict[str, Any]], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` after ``conversation``, with one system message first: a system prompt in both
    becomes one (the conversation's, then the strategy's), since chat templates expect one, first."""
    head = [m for m in conversation if m["role"] == "system"] + [m for m in messages if m["role"] == "system"]
    system = [{"role": "system", "content": "\n\n".join(m["content"] for m in head)}] if head else []
    return system + [m for m in conversation if m["role"] != "system"] + [m for m in messages if m["role"] != "system"]


@dataclass
class Context:
    """What one run carries: its dependencies (client, budget meter, trace, retriever), its seed,
    the sampling defaults of every generation in it, merged once, and its failed branches.

    ``sampling`` holds the caller's options (the server's request, ``arun(sampling=...)``) with a
    sampler's over them (a branch's temperature): a strategy's own options win over both, the
    client's defaults lose to all. Progress events and the answer's text go to the trace's
    listener (:meth:`report`), not to fields of the context.
    """

    llm: LLM
    budget: Meter
    trace: Trace
    retriever: Retriever | None = None
    seed: int = 0
    sampling: SamplingArgs = field(default_factory=lambda: SamplingArgs())
    logprobs: bool = False  # a caller needs token logprobs: generating strategies must ask for them
    failures: list[FailedSample] = field(default_factory=list)  # the run's failed branches, shared by its forks
    conversation: list[dict[str, Any]] = field(default_factory=list)  # earlier turns, before every generation
    branch: bool = False  # a parallel branch: its text is one of many, so only the run's own streams

    def seed_for(self, index: int) -> int:
        """The seed of this run's ``index``-th sample or branch: the one derivation, so samples differ."""
        return self.seed * 1_000_003 + index

    def fork(
        self, index: int, *, budget: Meter | None = None, temperature: float | None = None, logprobs: bool = False
    ) -> Context:
        """A context for a parallel branch: its own seed (:meth:`seed_for`), optionally its own
        sub-budget, a sampling temperature for strategies that set none, and whether the branch's
        generations must carry token logprobs (for a weighted vote or a likelihood scorer)."""
        sampling = self.sampling if temperature is None else sampling_args({**self.sampling, "temperature": temperature})
        return replace(self, seed=self.seed_for(index), budget=budget or self.budget, sampling=sampling,
                       logprobs=self.logprobs or logprobs, branch=True)

    async def generate(self, prompt: Any, **options: Any) -> list[Completion]:
        """``llm.agenerate`` charged to this run's budget, after the conversation so far and with the
        caller's sampling options under the strategy's own. Of several samples, those that still fail
        after their retries are recorded as failed samples and left out (see :meth:`attempt`)."""
        messages = join_conversation(self.conversation, to_messages(prompt)) if self.conversation else prompt
        options = {**self.sampling, **options}
        if self.trace.text_events and not self.branch and options.get("n", 1) == 1 and not self.logprobs:
            sampling = {k: v for k, v in options.items() if k not in ("n", "logprobs")}
            completion: Completion | None = None
            async for item in self.llm.astream(messages, budget=self.budget, **sampling):
                if isinstance(item, str):
                    self.report(TextDelta(item))
                elif isinstance(item, ReasoningDelta):
                    self.report(ReasoningText(item.text))
                else:
                    completion = item
            assert completion is not None
            return [completion]
        try:
            return await self.llm.agenerate(messages, budget=self.budget, **options)
        except SamplesFailed as e:  # some samples came back: keep them, record the rest (see attempt)
            self.failures.extend(FailedSample(f"sample {i}", error) for i, error in e.errors)
            return list(e.completions)

    def with_sampling(self, extra: dict[str, Any]) -> Context:
        """This context with ``extra`` sampling options over the caller's (``top_logprobs``, a cut)."""
        return replace(self, sampling=sampling_args({**self.sampling, **extra}))

    def report(self, event: Event) -> None:
        """Send a progress event to the trace's listener, if it has one (``Strategy.astream``)."""
        self.trace.report(event)

    async def attempt(self, branch: Awaitable[T], where: str, *,
                      own_errors: list[BaseException] | None = None) -> T | None:
        """Await one branch of the run (a sample, a chain, a node's answer, a candidate's score)
        in isolation: the one failure policy of the strategy layer.

        If a model call in it still fails after its retries, the branch becomes a failed sample:
        recorded in :attr:`failures` (so the result says it is degraded) and None is returned,
        so the strategy answers from the other branches. An :class:`AuthError` still stops the
        run, and so does every other error of this toolkit (budget, capability, configuration).
        ``own_errors`` is for branches that run the caller's code (a scorer's checker): an error
        of that code is appended there and None returned, so one crashing check leaves its
        candidate unscored instead of sinking the run; without it such an error propagates.
        """
        try:
            return await branch
        except AuthError:
            raise
        except LLMError as e:
            self.failures.append(FailedSample(where, e))
            return None
        except ReasonersError:
            raise
        except Exception as e:
            if own_errors is None:
                raise
            own_errors.append(e)
            return None

    def raise_if_nothing_succeeded(self, succeeded: bool, since: int) -> None:
        """A run fails only when nothing succeeded: if ``succeeded`` is false and branches failed
        since ``since`` (``len(ctx.failures)`` when the strategy began), raise the first one's error."""
        if not succeeded and len(self.failures) > since:
            raise self.failures[since].error

    async def score(self, prompt: str, continuation: str, *, llm: LLM | None = None) -> Score:
        """``llm.ascore`` charged to this run's budget."""
        return await (llm or self.llm).ascore(prompt, continuation, budget=self.budget)

    async def delegate(self, strategy: Strategy, problem: Problem) -> Result:
        """Run a sub-strategy on this context in its own trace span. Anytime: running out of budget
        returns an empty, ``exhausted`` result instead of raising."""
        with span("strategy", strategy.name, config=summary_of(strategy)):
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
    streams_text: ClassVar[bool] = False
    """Whether the run's answer is one generation whose text :meth:`astream` can forward as written."""

    @abstractmethod
    async def solve(self, problem: Problem, ctx: Context) -> Result:
        """Solve ``problem`` using only ``ctx`` (no per-run state on ``self``)."""

    def __post_init__(self) -> None:
        """After a registered (dataclass) strategy is built: check its fields' types and bounds."""
        check_fields(self)

    def config(self) -> dict[str, Any]:
        """The strategy's parameters, for traces and specs: its fields."""
        return config_of(self)

    async def prepare(self, ctx: Context) -> Strategy:
        """This strategy made ready to solve on ``ctx.llm``, as a new object (``self`` when nothing
        needs doing): the work to do once before many problems, such as AutoCoT's demos, charged
        to ``ctx``. The default prepares the strategies this one holds (a base, stages)."""
        changed: dict[str, Any] = {}
        for name, value in self.config().items():
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
        if dataclasses.is_dataclass(self):
            return replace(self, **changed)
        clone = copy.copy(self)  # a strategy written without @settings
        clone.__dict__.update(changed)
        return clone

    async def aprepared(self, *, llm: LLM, budget: Budget | Meter | None = None, seed: int = 0) -> tuple[Strategy, Result]:
        """:meth:`prepare` in a run of its own, as harness, CLI and server call it: the prepared
        strategy, and a :class:`Result` with what preparing spent (``usage``) and its trace."""
        run_budget = meter_for(budget, own=True)
        trace = Trace(f"{self.name}.prepare", model=llm.model, seed=seed)
        ctx = Context(llm=llm, budget=run_budget, trace=trace, seed=seed)
        with trace.activate():
            ready = await self.prepare(ctx)
        return ready, Result(answer=None, strategy=self.name, usage=run_budget.used, trace=trace.to_dict())

    def prepared(self, *, llm: LLM, budget: Budget | Meter | None = None, seed: int = 0) -> tuple[Strategy, Result]:
        """Sync twin of :meth:`aprepared`."""
        return run_sync(self.aprepared(llm=llm, budget=budget, seed=seed), async_name="aprepared")

    def __or__(self, stage: Stage) -> Pipeline:
        """``strategy | stage``: a :class:`Pipeline`."""
        return Pipeline(self, [stage])

    async def arun(
        self,
        question: str | Problem,
        *,
        llm: LLM,
        budget: Budget | Meter | None = None,
        retriever: Retriever | None = None,
        seed: int = 0,
        kind: AnswerKind | None = None,
        trace: Trace | None = None,
        conversation: Sequence[Mapping[str, Any]] = (),
        sampling: SamplingArgs | None = None,
    ) -> Result:
        """Solve one question. ``result.usage`` is exactly what this run spent; ``result.trace`` its call tree.

        ``kind`` is the answer kind; when neither it nor a :class:`Problem` names one, it is
        inferred from the question (:func:`reasoners.answers.infer_kind`) and
        ``result.metadata["kind"]`` says which was used.
        Pass ``trace`` to record into your own :class:`Trace` (e.g. one with a listener).
        ``conversation`` (earlier chat turns, a system prompt) goes before every generation
        of the run, not before prompt scoring; ``sampling`` (:class:`SamplingArgs`: temperature,
        max_tokens, ...) applies to every generation that does not set the option itself.
        """
        return await self._execute(question, llm=llm, budget=budget, retriever=retriever, seed=seed, kind=kind,
                                   trace=trace, conversation=conversation, sampling=sampling)

    async def astream(
        self,
        question: str | Problem,
        *,
        llm: LLM,
        budget: Budget | Meter | None = None,
        retriever: Retriever | None = None,
        seed: int = 0,
        kind: AnswerKind | None = None,
        conversation: Sequence[Mapping[str, Any]] = (),
        sampling: SamplingArgs | None = None,
        text: bool = True,
    ) -> AsyncGenerator[Event, None]:
        """:meth:`arun`, yielding its progress as it happens (see :mod:`reasoners.strategies.events`):
        model calls, the answer's text as a single-call strategy writes it, samples and votes,
        and last :class:`Finished` with the result. ``text=False`` leaves out the text deltas
        (the answer then comes whole, from one non-streaming call). Closing the iterator early
        (or cancelling the task that reads it) cancels the run and its model calls in flight."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()  # None: the run is over

        def on_start(s: Span) -> None:
            if s.kind in ("llm", "score"):
                queue.put_nowait(CallStarted(s.kind, s.name))

        def on_end(s: Span) -> None:
            if s.kind in ("llm", "score"):
                queue.put_nowait(CallFinished(s.kind, s.name, s.usage, bool(s.attrs.get("cached")), s.seconds,
                                              s.error))

        trace = Trace(self.name, model=llm.model, seed=seed, listener=on_end, on_start=on_start,
                      on_event=queue.put_nowait, text_events=text and self.streams_text)
        run = asyncio.ensure_future(self._execute(
            question, llm=llm, budget=budget, retriever=retriever, seed=seed, kind=kind, trace=trace,
            conversation=conversation, sampling=sampling))
        run.add_done_callback(lambda _: queue.put_nowait(None))  # pushed after its last event: nothing polls
        try:
            while (event := await queue.get()) is not None:
                yield event
            yield Finished(run.result())
        finally:
            if not run.done():
                run.cancel()
                await asyncio.gather(run, return_exceptions=True)

    async def _execute(
        self,
        question: str | Problem,
        *,
        llm: LLM,
        budget: Budget | Meter | None,
        retriever: Retriever | None,
        seed: int,
        kind: AnswerKind | None,
        trace: Trace | None,
        conversation: Sequence[Mapping[str, Any]] = (),
        sampling: SamplingArgs | None = None,
    ) -> Result:
        if not isinstance(llm, LLM):
            raise ConfigError(f"llm must be a reasoners.LLM, got {type(llm).__name__}")
        inferred = False
        if isinstance(question, Problem):
            problem = question if kind is None else replace(question, kind=kind)
        else:
            if not isinstance(question, str) or not question.strip():
                raise ConfigError("the question must be a non-empty string or a Problem")
            inferred = kind is None
            problem = Problem(question, kind=kind or infer_kind(question))
        run_budget = meter_for(budget, own=True)
        trace = trace or Trace(self.name, model=llm.model, seed=seed)
        ctx = Context(llm=llm, budget=run_budget, trace=trace, retriever=retriever, seed=seed,
                      conversation=to_messages(conversation) if conversation else [], sampling=sampling_args(sampling))
        with trace.activate():
            result = await ctx.delegate(self, problem)
        if run_budget.over_limit:  # a reply longer than its max_tokens took the run past its budget
            result.exhausted = True
        if ctx.failures:
            result.degraded = True
            result.metadata["failed_samples"] = [f.to_dict() for f in ctx.failures]
        if inferred:
            result.metadata.setdefault("kind", problem.kind)
        result.usage = run_budget.used
        result.trace = trace.to_dict()
        return result

    def run(
        self,
        question: str | Problem,
        *,
        llm: LLM,
        budget: Budget | Meter | None = None,
        retriever: Retriever | None = None,
        seed: int = 0,
        kind: AnswerKind | None = None,
        trace: Trace | None = None,
        conversation: Sequence[Mapping[str, Any]] = (),
        sampling: SamplingArgs | None = None,
    ) -> Result:
        """Sync twin of :meth:`arun`, with the same arguments."""
        return run_sync(
            self.arun(question, llm=llm, budget=budget, retriever=retriever, seed=seed, kind=kind, trace=trace,
                      conversation=conversation, sampling=sampling),
            async_name="arun",
        )


class Stage(ABC):
    """A step after generation. ``apply`` must not mutate its input."""

    name = "stage"

    def check(self, ctx: Context) -> None:
        """Raise before anything is spent if this stage cannot run here."""

    @abstractmethod
    async def apply(self, result: Result, problem: Problem, ctx: Context) -> Result: ...

    def __post_init__(self) -> None:
        check_fields(self)

    def config(self) -> dict[str, Any]:
        """The stage's parameters, for traces and specs: its fields."""
        return config_of(self)


@settings
class Pipeline(Strategy):
    """Run ``generator``, then each stage on its result, all under the caller's one budget.

    ``shares`` (one weight per step, generator first) splits the token budget:
    each step may use its weight's share of what is left when it starts, so a
    step that spends less leaves the rest to the steps after it. Anytime: if a
    stage runs out of budget, the result so far is returned with ``exhausted=True``.
    """

    name = "pipeline"

    generator: Strategy = param(kw_only=False)
    stages: list[Stage] = param(factory=list, kw_only=False)
    shares: list[float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", list(self.stages))
        if self.shares is not None and (len(self.shares) != len(self.stages) + 1 or any(w <= 0 for w in self.shares)):
            raise ConfigError(f"Pipeline shares need one positive weight per step ({len(self.stages) + 1}); "
                              f"got {self.shares}")
        super().__post_init__()

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
        result = await self._step_context(ctx, 0).delegate(self.generator, problem)
        for i, stage in enumerate(self.stages, 1):
            if result.exhausted:
                break
            with span("stage", stage.name, config=summary_of(stage)):
                try:
                    result = await stage.apply(result, problem, self._step_context(ctx, i))
                except BudgetExhausted:
                    result.exhausted = True
        return result
