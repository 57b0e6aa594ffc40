"""FOBAR (Jiang et al. 2024, "Forward-Backward Reasoning in Large Language Models for
Mathematical Verification"): check each candidate answer by reasoning backwards.

Forward, a sampler (self-consistency by default) proposes candidate answers with
vote shares P_f. Backward, one number in the question is masked as ``x`` and the
model is told the candidate is the answer: "If we know the answer to the above
question is A, what is the value of unknown variable x?". A candidate that lets
the model recover the masked numbers is likely right. With c_b(A) the backward
chains that recover their number:

    P_b(A) = (c_b(A) + eps/|C|) / (sum_A' c_b(A') + eps)
    score(A) = P_f(A)^alpha * P_b(A)^(1 - alpha)
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..answers import extract_number, extract_text, same_answer
from ..answers.masking import Mask, find_numbers
from ..core.errors import BudgetExhausted, ConfigError
from ..core.packages import fewshot_file
from ..core.problem import Candidate, Problem, Result
from ..core.trace import span
from ..domains.demos import Demo, Demos, demos_from
from .base import Context, Strategy, register
from .cot import ChainOfThought, format_question
from .params import param, settings
from .sampling import SelfConsistency

__all__ = ["FOBAR", "BackwardPlan", "plan_backward", "fit_chains", "combine"]

BACKWARD_TEMPLATE = (
    "{question}\nIf we know the answer to the above question is {answer}, "
    "what is the value of unknown variable x?"
)

DECLARATIVE_TEMPLATE = (
    "Question: {question}\nAnswer: {answer}\n\nRewrite the question and its answer as statements of fact, "
    "keeping every number the question gives. Write only the statements."
)

INVERSE_TEMPLATE = (
    "Question: {question}\nProposed answer: {answer}\n\nWrite the inverse question: take the proposed "
    "answer as a known fact, hide one fact that the question states, and ask for it. Then answer your "
    "inverse question using only the proposed answer and the facts you kept."
)

JUDGE_TEMPLATE = (
    "Original question: {question}\nProposed answer: {answer}\n\nBackward check (an inverse question "
    "that assumes the proposed answer, and its solution):\n{inverse}\n\nIs the backward check consistent "
    "with the original question: does it recover the hidden fact without contradicting anything the "
    "original states? Finish with 'The answer is yes.' or 'The answer is no.'"
)


@dataclass
class BackwardPlan:
    """Which numbers to mask and how many backward chains per (mask, candidate)."""

    masks: list[Mask]
    chains: int
    candidates: int
    estimated_tokens: int

    @property
    def total_chains(self) -> int:
        return len(self.masks) * self.candidates * self.chains

    def to_dict(self) -> dict[str, Any]:
        return {
            "masked": [m.text for m in self.masks],
            "chains_per_mask_and_candidate": self.chains,
            "candidates": self.candidates,
            "total_chains": self.total_chains,
            "estimated_tokens": self.estimated_tokens,
        }


def plan_backward(
    masks: list[Mask],
    candidates: int,
    *,
    chains: int,
    max_masks: int | None,
    tokens_per_chain: int,
    tokens_left: int | None,
) -> BackwardPlan:
    """Fit masks x candidates x chains into ``tokens_left``: first fewer chains per pair
    (down to 1), then fewer masked numbers (spread evenly over the question)."""
    chosen = _spread(masks, len(masks) if max_masks is None else max_masks)
    m = chains
    if tokens_left is not None and tokens_per_chain > 0:
        affordable = tokens_left // tokens_per_chain
        m = max(1, fit_chains(len(chosen) * candidates, chains, affordable))
        while chosen and len(chosen) * candidates * m > affordable:
            chosen = _spread(masks, len(chosen) - 1)
    plan = BackwardPlan(chosen, m if chosen else 0, candidates, 0)
    plan.estimated_tokens = plan.total_chains * tokens_per_chain
    return plan


def fit_chains(units: int, chains: int, affordable: int | None) -> int:
    """Most chains per unit (at most ``chains``) such that ``units`` x chains fit in
    ``affordable`` chains; 0 when not even one chain per unit fits."""
    if affordable is None or units == 0:
        return chains
    return min(chains, affordable // units)


def _spread(masks: list[Mask], k: int) -> list[Mask]:
    if k <= 0:
        return []
    if len(masks) <= k:
        return list(masks)
    step = len(masks) / k
    return [masks[int(i * step)] for i in range(k)]


def combine(
    forward: dict[str, float], backward: dict[str, float], *, alpha: float = 0.5, eps: float = 1e-8
) -> dict[str, float]:
    """Normalised FOBAR scores from forward shares and backward correct-chain counts."""
    n = len(forward)
    total_b = sum(backward.get(a, 0) for a in forward)
    scores = {}
    for a, p_f in forward.items():
        p_b = (backward.get(a, 0) + eps / n) / (total_b + eps)
        scores[a] = (p_f**alpha) * (p_b ** (1 - alpha))
    z = sum(scores.values())
    return {a: s / z for a, s in scores.items()} if z > 0 else scores


@register("fobar")
@settings
class FOBAR(Strategy):
    """Forward sampling, backward verification by masked numbers (see the module docstring).

    - ``forward``: a candidate-producing strategy (default ``SelfConsistency(n=8)``);
      a candidate's forward probability is its vote share.
    - ``chains`` backward samples per (masked number, candidate), at most ``max_masks``
      masked numbers (None: every number); both shrink to fit the budget left after the
      forward pass. ``x_marker`` asks each backward chain to end with that phrase ("The value
      of x is") and reads x after it, as the paper does; a chain that does not write it is read
      by its last number, as the reference falls back.
    - ``scoring="backward"`` is the paper's backward-only baseline: candidates ranked by
      their backward chains alone, the forward vote ignored (ties: first seen).
      ``scoring="self_verification"`` is its other baseline, Self-Verification (Weng et al.
      2023): the model rewrites question and candidate as statements, a stated number is
      masked in them and predicted; ranked by those checks alone.
    - ``alpha`` weighs forward against backward; ``eps`` smooths backward counts.
    - ``demos``: few-shot examples for the backward questions (``Demo`` objects, or a demos
      file's path, read and checked at once by :func:`reasoners.domains.demos.load_demos`).
    - For non-numeric problems, ``check_non_numeric=True`` checks each candidate with
      ``chains`` backward consistency chains instead: the model writes an inverse question
      that takes the candidate as given, then judges it against the original (yes/no).
    """

    forward: Strategy = param(factory=lambda: SelfConsistency(n=8), kw_only=False)
    chains: int = param(default=4, ge=1)
    max_masks: int | None = param(default=4, ge=1)  # None masks every number
    alpha: float = param(default=0.5, ge=0)  # at most 1
    eps: float = param(default=1e-8, gt=0)
    temperature: float = 0.7
    backward_max_tokens: int = 256
    demos: Demos | Sequence[Demo] | str | Path = ()
    include_dates: bool = False
    check_non_numeric: bool = False
    x_marker: str | None = None
    scoring: Literal["fobar", "backward", "self_verification"] = "fobar"

    def __post_init__(self) -> None:
        if self.alpha > 1:
            raise ConfigError(f"FOBAR alpha must be in [0, 1]; got {self.alpha}")
        object.__setattr__(self, "demos", demos_from(self.demos, owner="FOBAR"))
        super().__post_init__()

    @classmethod
    def paper(cls, **overrides: Any) -> FOBAR:
        """The paper's setting for chat models (Jiang et al. 2024; its reference code runs 10
        forward paths for GPT-3.5-Turbo and GPT-4, 40 only for text-davinci-003): 10 paths of
        few-shot CoT, every number the question states masked in turn, 8 backward chains per
        (masked number, candidate) with few-shot backward demos
        (``reasoners/data/fewshot/fobar_backward.json``) that ask for and read "The value of x
        is N" (the last number when a chain does not write it), and alpha 0.5. That is
        10 + 8 x numbers x candidates calls per problem: a budget caps the backward pass
        (fewer chains first, then fewer masks; see the docs)."""
        from .sampling import SelfConsistency as _SC

        settings: dict[str, Any] = {"forward": _SC.paper(n=10), "chains": 8, "max_masks": None,
                                    "demos": fewshot_file("fobar_backward.json"), "x_marker": "The value of x is",
                                    "alpha": 0.5}
        return cls(**{**settings, **overrides})

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        fwd = await ctx.delegate(self.forward, problem)
        candidates = [c for c in fwd.candidates if c.answer is not None]
        forward = _shares(candidates, problem)
        meta: dict[str, Any] = {"forward": forward}
        if len(forward) <= 1 or fwd.exhausted:
            return Result(fwd.answer, confidence=fwd.confidence, candidates=fwd.candidates,
                          exhausted=fwd.exhausted, strategy=self.name, metadata=meta)
        if problem.kind == "number" and self.scoring == "self_verification":
            backward, meta["plan"] = await self._self_verification(problem, list(forward), ctx)
        elif problem.kind == "number":
            backward, plan = await self._backward_numeric(problem, list(forward), ctx)
            meta["plan"] = plan.to_dict()
        elif self.check_non_numeric:
            backward, meta["plan"] = await self._backward_check(problem, list(forward), ctx)
        else:
            return Result(fwd.answer, confidence=fwd.confidence, candidates=fwd.candidates,
                          strategy=self.name, metadata=meta)
        if self.scoring != "fobar":  # the baselines rank by backward checks alone: the forward vote plays no part
            scores = combine(forward, backward, alpha=0.0, eps=self.eps)
            best = min(scores, key=lambda a: (-scores[a], list(forward).index(a)))
        else:
            scores = combine(forward, backward, alpha=self.alpha, eps=self.eps)
            best = min(scores, key=lambda a: (-scores[a], -forward[a], list(forward).index(a)))
        meta.update(backward=backward, scores=scores)
        ranked = sorted(candidates, key=lambda c: -scores.get(c.answer or "", 0.0))
        for c in ranked:
            c.score = scores.get(c.answer or "")
        return Result(best, confidence=scores[best], candidates=ranked, exhausted=ctx.budget.exhausted,
                      strategy=self.name, metadata=meta)

    def read_x(self, text: str) -> str | None:
        """The value a backward chain found for x: the number after the last ``x_marker`` when one
        is set and written (the paper's "The value of x is N"), else, as the reference falls back,
        the chain's answer (the last number)."""
        if self.x_marker is not None:
            at = text.lower().rfind(self.x_marker.lower())
            if at >= 0 and (x := extract_number(text[at + len(self.x_marker):].split("\n")[0])) is not None:
                return x
        return extract_number(text)

    def backward_messages(self, masked_question: str, answer: str) -> list[dict[str, str]]:
        """A backward chain's prompt; with ``x_marker`` it asks for the line that :meth:`read_x` reads."""
        cot = ChainOfThought(demos=self.demos)
        instruction = None if self.x_marker is None else (
            f"Finish with a line of the form '{self.x_marker} N.' where N is a number.")
        return cot.messages(Problem(BACKWARD_TEMPLATE.format(question=masked_question, answer=answer)),
                            instruction=instruction)

    async def _backward_numeric(
        self, problem: Problem, answers: list[str], ctx: Context
    ) -> tuple[dict[str, float], BackwardPlan]:
        masks = find_numbers(problem.question, include_dates=self.include_dates)
        # Worst case per chain, so the plan never promises more than the budget holds.
        longest = max(answers, key=len)
        per_chain = ctx.llm.count_tokens(self.backward_messages(problem.question, longest)) + self.backward_max_tokens
        plan = plan_backward(
            masks, len(answers), chains=self.chains, max_masks=self.max_masks,
            tokens_per_chain=per_chain, tokens_left=ctx.budget.tokens_left(),
        )
        with span("fobar.backward", self.name, plan=plan.to_dict()) as s:

            async def check(job: int, mask: Mask, answer: str) -> bool | None:
                masked = mask.apply(problem.question)
                sub = ctx.fork(job, temperature=self.temperature)
                try:
                    out = await sub.attempt(sub.generate(
                        self.backward_messages(masked, answer),
                        temperature=self.temperature,
                        max_tokens=self.backward_max_tokens,
                        seed=sub.seed,
                    ), f"backward chain {job} (x={mask.value}, answer {answer})")
                except BudgetExhausted:
                    return False
                return None if out is None else same_answer(self.read_x(out[0].text), mask.value)

            jobs = [(m, a) for m in plan.masks for a in answers for _ in range(plan.chains)]
            results = await asyncio.gather(*(check(i, m, a) for i, (m, a) in enumerate(jobs)))
            counts = tally_chains([a for _, a in jobs], results, answers)
            if s is not None:
                s.attrs["correct_chains"] = counts
        return counts, plan

    async def _self_verification(
        self, problem: Problem, answers: list[str], ctx: Context
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """The Self-Verification baseline (Weng et al. 2023), as FOBAR compares against it: each
        candidate and the question are rewritten by the model into one declarative statement; a
        number the question stated is masked in that statement, and the model predicts it. A
        candidate's score is how many of its chains recover the number."""
        masks = find_numbers(problem.question, include_dates=self.include_dates)
        statements: dict[str, str] = {}
        with span("fobar.self_verification", self.name) as s:
            for i, answer in enumerate(answers):
                sub = ctx.fork(10_000 + i)
                try:
                    out = await sub.attempt(sub.generate(
                        DECLARATIVE_TEMPLATE.format(question=format_question(problem), answer=answer),
                        temperature=0.0, max_tokens=self.backward_max_tokens), f"rewrite for answer {answer}")
                except BudgetExhausted:
                    out = None
                statements[answer] = out[0].text.strip() if out else ""
            left = ctx.budget.tokens_left()
            per_chain = self.backward_max_tokens * 2
            plan = plan_backward(masks, len(answers), chains=self.chains, max_masks=self.max_masks,
                                 tokens_per_chain=per_chain, tokens_left=left)

            async def check(job: int, mask: Mask, answer: str) -> bool | None:
                found = [m for m in find_numbers(statements[answer]) if same_answer(m.value, mask.value)]
                if not found:
                    return False  # the rewrite dropped the condition: nothing to verify
                sub = ctx.fork(job, temperature=self.temperature)
                question = found[0].apply(statements[answer]) + "\nWhat is the value of x?"
                try:
                    out = await sub.attempt(sub.generate(
                        ChainOfThought().messages(Problem(question)), temperature=self.temperature,
                        max_tokens=self.backward_max_tokens, seed=sub.seed,
                    ), f"verification chain {job} (x={mask.value}, answer {answer})")
                except BudgetExhausted:
                    return False
                return None if out is None else same_answer(self.read_x(out[0].text), mask.value)

            jobs = [(m, a) for m in plan.masks for a in answers for _ in range(plan.chains)]
            counts = tally_chains([a for _, a in jobs], await asyncio.gather(*(
                check(i, m, a) for i, (m, a) in enumerate(jobs))), answers)
            if s is not None:
                s.attrs.update(statements=statements, correct_chains=counts)
        return counts, {**plan.to_dict(), "check": "self-verification", "rewrites": len(answers)}

    def check_prompt(self, problem: Problem, answer: str, inverse: str | None = None) -> str:
        """The inverse-question request (``inverse=None``) or the consistency judgement of one."""
        question = format_question(problem)
        labels = string.ascii_uppercase[: len(problem.choices)]
        if problem.kind == "choice" and len(answer) == 1 and answer in labels:
            answer = f"({answer}) {problem.choices[labels.index(answer)]}"  # the option, not just its letter
        if inverse is None:
            return INVERSE_TEMPLATE.format(question=question, answer=answer)
        return JUDGE_TEMPLATE.format(question=question, answer=answer, inverse=inverse.strip())

    async def _backward_check(
        self, problem: Problem, answers: list[str], ctx: Context
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """Per chain: the model writes an inverse question that assumes the candidate and
        answers it, then judges whether that is consistent with the original question."""
        longest = max(answers, key=len)
        # Worst case per chain: both prompts, the judge's holding a full-length inverse, and both replies.
        per_chain = (ctx.llm.count_tokens(self.check_prompt(problem, longest))
                     + ctx.llm.count_tokens(self.check_prompt(problem, longest, ""))
                     + 3 * self.backward_max_tokens)
        left = ctx.budget.tokens_left()
        chains = fit_chains(len(answers), self.chains, None if left is None else left // per_chain)
        plan = {"check": "inverse question", "chains_per_candidate": chains, "candidates": len(answers),
                "calls": 2 * chains * len(answers), "estimated_tokens": chains * len(answers) * per_chain}

        async def chain(sub: Context, answer: str) -> str:
            options = dict(temperature=self.temperature, max_tokens=self.backward_max_tokens, seed=sub.seed)
            [inverse] = await sub.generate(self.check_prompt(problem, answer), **options)
            [verdict] = await sub.generate(self.check_prompt(problem, answer, inverse.text), **options)
            return verdict.text

        async def check(job: int, answer: str) -> bool | None:
            sub = ctx.fork(job, temperature=self.temperature)
            try:
                verdict = await sub.attempt(chain(sub, answer), f"check chain {job} (answer {answer})")
            except BudgetExhausted:
                return False
            return None if verdict is None else (extract_text(verdict) or "").lower().startswith("yes")

        jobs = [a for a in answers for _ in range(chains)]
        with span("fobar.check", self.name, plan=plan) as s:
            counts = tally_chains(jobs, await asyncio.gather(*(check(i, a) for i, a in enumerate(jobs))), answers)
            if s is not None:
                s.attrs["consistent_chains"] = counts
        return counts, plan


def tally_chains(jobs: list[str], outcomes: list[bool | None], answers: list[str]) -> dict[str, float]:
    """Correct backward chains per answer. A chain whose call failed (None) is left out: the
    answer's count is scaled from the chains that came back to all it had, so a failure neither
    confirms nor refutes it. Without failures the counts are whole, as in the paper."""
    ok = {a: 0 for a in answers}
    done = {a: 0 for a in answers}
    planned = {a: 0 for a in answers}
    for a, outcome in zip(jobs, outcomes):
        planned[a] += 1
        if outcome is not None:
            done[a] += 1
            ok[a] += int(outcome)
    return {a: ok[a] if done[a] == planned[a] else (ok[a] * planned[a] / done[a] if done[a] else 0)
            for a in answers}


def _shares(candidates: list[Candidate], problem: Problem) -> dict[str, float]:
    """Forward probability of each distinct answer: its vote share, in first-seen order."""
    counts: dict[str, int] = {}
    keys: list[str] = []
    for c in candidates:
        key = next((k for k in keys if same_answer(k, c.answer, problem.kind)), None)
        if key is None:
            key = c.answer or ""
            keys.append(key)
        counts[key] = counts.get(key, 0) + 1
        c.answer = key
    total = sum(counts.values())
    return {k: counts[k] / total for k in keys} if total else {}



