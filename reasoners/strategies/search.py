"""Sequential search with backtracking over arithmetic puzzles (Countdown, Game of 24), after
"To Backtrack or Not to Backtrack" (Qin et al. 2025): compare it with parallel best-of-N at
equal tokens.

- :class:`BacktrackSearch`: the model proposes next steps ("a op b = c") for the
  numbers left; the task checker validates each step exactly; search goes
  depth-first and backtracks when a branch has no valid step or ends off
  target (``order="model"``), or best-first by the model's own logprob of
  each proposal list (``order="logprob"``). The search tree is a networkx graph
  in the trace. Out of budget, it returns the best state reached.
- :class:`LinearBacktrack`: one long generation that may say "backtrack" in
  text; its final expression is checked at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

import networkx as nx

from ..datasets import check_24
from ..errors import BudgetExhausted, ConfigError
from ..problem import Candidate, Problem, Result
from ..trace import span
from .base import Context, Strategy, register

__all__ = ["BacktrackSearch", "LinearBacktrack", "ArithmeticState", "parse_steps"]

_STEP = re.compile(r"(-?\d+(?:/\d+)?)\s*([+\-*/×x÷])\s*(-?\d+(?:/\d+)?)\s*=\s*(-?\d+(?:/\d+)?)")
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


def _num(text: str) -> Fraction:
    return Fraction(text)


def _fmt(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


@dataclass(frozen=True)
class ArithmeticState:
    """Numbers left and the expressions that built each, for puzzles that combine numbers into a target."""

    numbers: tuple[Fraction, ...]
    expressions: tuple[str, ...]
    target: int

    @classmethod
    def start(cls, numbers: list[int], target: int) -> ArithmeticState:
        return cls(tuple(Fraction(n) for n in numbers), tuple(str(n) for n in numbers), target)

    @property
    def solved(self) -> bool:
        return len(self.numbers) == 1 and self.numbers[0] == self.target

    @property
    def dead(self) -> bool:
        return len(self.numbers) == 1 and not self.solved

    @property
    def distance(self) -> float:
        """How far the closest number left is from the target (for "best state so far")."""
        return float(min(abs(n - self.target) for n in self.numbers)) + (len(self.numbers) - 1)

    def describe(self) -> str:
        return " ".join(_fmt(n) for n in self.numbers)

    def apply(self, a: Fraction, op: str, b: Fraction, claimed: Fraction) -> ArithmeticState | None:
        """The state after ``a op b``, or None if the step is not allowed or its arithmetic is wrong."""
        op = {"×": "*", "x": "*", "÷": "/"}.get(op, op)
        if op == "/" and b == 0:
            return None
        if _OPS[op](a, b) != claimed:
            return None
        left = list(self.numbers)
        exprs = list(self.expressions)
        try:
            i = left.index(a)
            ea = exprs.pop(i)
            left.pop(i)
            j = left.index(b)
            eb = exprs.pop(j)
            left.pop(j)
        except ValueError:
            return None  # used a number that is not available
        return ArithmeticState(tuple(left + [claimed]), tuple(exprs + [f"({ea} {op} {eb})"]), self.target)


def parse_steps(text: str) -> list[tuple[Fraction, str, Fraction, Fraction]]:
    """Every "a op b = c" in ``text``, in order, without repeats."""
    seen, out = set(), []
    for m in _STEP.finditer(text):
        step = (_num(m.group(1)), m.group(2), _num(m.group(3)), _num(m.group(4)))
        if step not in seen:
            seen.add(step)
            out.append(step)
    return out


def _puzzle(problem: Problem) -> ArithmeticState:
    numbers = problem.metadata.get("numbers")
    if not numbers:
        raise ConfigError("search needs problem.metadata['numbers'] (and 'target', default 24)")
    return ArithmeticState.start([int(n) for n in numbers], int(problem.metadata.get("target", 24)))


PROPOSE = (
    "Use arithmetic (+ - * /) on two of the numbers to make a new number, aiming for {target} in the end. "
    "Numbers: {numbers}\nList {k} different possible next steps, one per line, like '4 + 9 = 13'."
)


@register("search")
class BacktrackSearch(Strategy):
    """Depth-first (or logprob best-first) search with backtracking over model-proposed steps."""

    def __init__(
        self,
        *,
        proposals: int = 4,
        order: Literal["model", "logprob"] = "model",
        temperature: float = 0.7,
        max_tokens: int = 128,
        max_expansions: int = 50,
    ) -> None:
        if proposals < 1 or max_expansions < 1:
            raise ConfigError("search needs proposals >= 1 and max_expansions >= 1")
        if order not in ("model", "logprob"):
            raise ConfigError("search order must be 'model' or 'logprob'")
        self.proposals = proposals
        self.order = order
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_expansions = max_expansions

    async def _expand(self, state: ArithmeticState, ctx: Context, i: int) -> tuple[list[ArithmeticState], float]:
        prompt = PROPOSE.format(target=state.target, numbers=state.describe(), k=self.proposals)
        [c] = await ctx.generate(prompt, temperature=self.temperature, max_tokens=self.max_tokens,
                                 seed=ctx.seed * 1000 + i, logprobs=self.order == "logprob")
        children = []
        for a, op, b, claimed in parse_steps(c.text):
            nxt = state.apply(a, op, b, claimed)
            if nxt is not None and nxt not in children:
                children.append(nxt)
        return children, c.mean_logprob or 0.0

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        start = _puzzle(problem)
        tree = nx.DiGraph()
        tree.add_node(0, state=start.describe(), expr="")
        best, best_id = start, 0
        frontier: list[tuple[float, int, ArithmeticState]] = [(0.0, 0, start)]
        expansions, exhausted, solved = 0, False, None
        with span("search", self.name, order=self.order) as s:
            while frontier and expansions < self.max_expansions:
                if self.order == "logprob":
                    frontier.sort(key=lambda f: f[0])  # highest logprob last
                _, node_id, state = frontier.pop()  # depth-first: the newest child first
                try:
                    children, logprob = await self._expand(state, ctx, expansions)
                except BudgetExhausted:
                    exhausted = True
                    break
                expansions += 1
                if not children:
                    tree.nodes[node_id]["dead"] = "no valid step"  # backtrack
                for child in reversed(children):  # keep the model's order for DFS pops
                    child_id = tree.number_of_nodes()
                    tree.add_node(child_id, state=child.describe(), expr=child.expressions[-1])
                    tree.add_edge(node_id, child_id)
                    if child.distance < best.distance:
                        best, best_id = child, child_id
                    if child.solved:
                        solved = child
                        break
                    if child.dead:
                        tree.nodes[child_id]["dead"] = "off target"
                        continue
                    frontier.append((logprob, child_id, child))
                if solved:
                    break
            if s is not None:
                s.attrs.update(tree=nx.node_link_data(tree, edges="edges"), expansions=expansions,
                               solved=solved is not None)
        final = solved or best
        answer = final.expressions[0] if len(final.numbers) == 1 else None
        ok = bool(answer) and check_24([int(x) for x in problem.metadata["numbers"]], answer, final.target)
        return Result(answer if ok else None, confidence=1.0 if ok else 0.0,
                      candidates=[Candidate(" ; ".join(final.expressions), answer, score=-final.distance,
                                            source=self.name, metadata={"node": best_id})],
                      exhausted=exhausted, strategy=self.name,
                      metadata={"expansions": expansions, "nodes": tree.number_of_nodes(),
                                "best_state": final.describe()})


LINEAR = (
    "Use the numbers {numbers} each exactly once with + - * / to make {target}. Think step by step; when a "
    "path fails, write 'backtrack' and try another. Finish with 'The answer is: <expression>'."
)


@register("linear")
class LinearBacktrack(Strategy):
    """One long generation that backtracks in text; the final expression is checked exactly."""

    def __init__(self, *, max_tokens: int = 1024, temperature: float | None = None) -> None:
        self.max_tokens = max_tokens
        self.temperature = temperature

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        state = _puzzle(problem)
        opts: dict[str, Any] = {"max_tokens": self.max_tokens, "seed": ctx.seed}
        temperature = self.temperature if self.temperature is not None else ctx.temperature
        if temperature is not None:
            opts["temperature"] = temperature
        [c] = await ctx.generate(LINEAR.format(numbers=state.describe(), target=state.target), **opts)
        m = list(re.finditer(r"answer is:?\s*(.+)", c.text, re.I))
        expression = m[-1].group(1).strip().strip("`$ .") if m else None
        numbers = [int(x) for x in problem.metadata["numbers"]]
        ok = check_24(numbers, expression, state.target)
        return Result(expression if ok else None, confidence=1.0 if ok else 0.0,
                      candidates=[Candidate(c.text, expression, score=1.0 if ok else 0.0, source=self.name,
                                            metadata={"backtracks": c.text.lower().count("backtrack"),
                                                      "finish_reason": c.finish_reason})],
                      strategy=self.name)
