"""Chain of thought, zero-shot ("Let's think step by step", Kojima et al. 2022) or few-shot (Wei et al. 2022)."""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

from ..answers import extract_answer
from ..core.problem import Candidate, Problem, Result
from ..domains.demos import Demo, Demos, demos_from
from ..llm.types import Completion
from .base import Context, Strategy, register
from .params import param, settings

__all__ = ["ChainOfThought", "Demo", "format_question"]


_FORMAT = {
    "number": "Finish with a line of the form 'The answer is N.' where N is a number.",
    "choice": "Finish with a line of the form 'The answer is (X).' where X is the letter of your choice.",
    "text": "Finish with a line of the form 'The answer is ...' with a short answer.",
    "code": "Write the complete solution in one ```python code block.",
}


def format_question(problem: Problem) -> str:
    """The question as shown to the model, with the choices listed for multiple choice."""
    text = problem.question.strip()
    if problem.kind == "choice":
        text += "\n" + "\n".join(f"({string.ascii_uppercase[i]}) {c}" for i, c in enumerate(problem.choices))
    return text


@register("cot")
@settings
class ChainOfThought(Strategy):
    """Ask for step-by-step reasoning and extract the final answer.

    ``demos`` turns it few-shot (each demo a user/assistant turn pair): :class:`Demo` objects
    or the path of a demos file, read by :func:`reasoners.domains.demos.load_demos`.
    ``temperature`` defaults to the context's (set by samplers such as
    SelfConsistency), then the client's; ``max_tokens`` to the client's.

    >>> ChainOfThought().run("What is 17 + 25?", llm=LLM("local/smollm2"))  # doctest: +SKIP
    """

    streams_text: ClassVar[bool] = True  # one generation is the answer: astream forwards its text as written

    demos: Demos | Sequence[Demo] | str | Path = ()
    trigger: str = "Let's think step by step."
    temperature: float | None = None
    max_tokens: int | None = param(default=None, ge=1)
    system: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "demos", demos_from(self.demos, owner="ChainOfThought"))
        super().__post_init__()

    @property
    def demo_list(self) -> Demos:
        """The demos, as read (a file's path becomes its demos when the strategy is built)."""
        return cast(Demos, self.demos)  # __post_init__ made it one

    def messages(self, problem: Problem, *, instruction: str | None = None) -> list[dict[str, str]]:
        """The chat messages for ``problem``; ``instruction`` replaces the answer-format line
        (FOBAR's backward chains ask for "The value of x is N.")."""
        instruction = instruction or _FORMAT[problem.kind]
        msgs: list[dict[str, str]] = []
        if self.system:
            msgs.append({"role": "system", "content": self.system})
        for d in self.demo_list:
            msgs.append({"role": "user", "content": f"{d.question.strip()}\n{self.trigger}"})
            msgs.append({"role": "assistant", "content": d.completion()})
        msgs.append({"role": "user", "content": f"{format_question(problem)}\n\n{instruction}\n{self.trigger}"})
        return msgs

    def options(self, ctx: Context) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if self.temperature is not None:  # else the run's (a sampler's, the caller's, the client's)
            opts["temperature"] = self.temperature
        if self.max_tokens is not None:
            opts["max_tokens"] = self.max_tokens
        return opts

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        # logprobs only when the run needs them (a weighted vote, a likelihood scorer, confidence):
        # computing them costs time on every token
        [c] = await ctx.generate(self.messages(problem), logprobs=ctx.logprobs, seed=ctx.seed, **self.options(ctx))
        abstained = c.abstained if c.reasoning else None  # thinking with no final text: no answer, no vote
        answer = None if abstained else extract_answer(c.text, problem.kind, problem.choices)
        cand = Candidate(
            text=c.text,
            answer=answer,
            logprob=c.logprob,
            mean_logprob=c.mean_logprob,
            source=self.name,
            metadata={"finish_reason": c.finish_reason, **({"abstained": abstained} if abstained else {})},
            reasoning=c.reasoning,
        )
        if ctx.sampling.get("top_logprobs"):  # a caller reads token confidence (DeepConf): the whole trace's tokens
            cand.metadata["token_logprobs"] = [*(c.reasoning_logprobs or []), *(c.logprobs or [])]
        meta: dict[str, Any] = {}
        if abstained:
            meta.update(no_answer=_no_answer(c, problem), abstentions={abstained: 1})
            confidence = 0.0
        elif answer is None:
            meta["no_answer"] = _no_answer(c, problem)
            confidence = 0.0
        elif c.mean_logprob is not None:
            confidence = math.exp(c.mean_logprob)
        else:
            confidence = 1.0
        return Result(answer, confidence=confidence, candidates=[cand], strategy=self.name, metadata=meta,
                      abstained=1 if abstained else 0)


def _no_answer(c: Completion, problem: Problem) -> str:
    """Why no answer was read from ``c``: said in the result instead of a bare None."""
    if c.abstained == "starved":
        return "the model's thinking used up its tokens before a final answer (raise max_tokens or thinking_tokens)"
    if c.abstained == "reasoning_only":
        return "the model thought but wrote no final answer"
    if c.truncated:
        return f"the reply was cut off at its token limit before a {problem.kind} answer"
    if not c.text.strip():
        return "the reply was empty"
    return f"no {problem.kind} answer found in the reply (answer kind {problem.kind!r}; pass kind= to change it)"
