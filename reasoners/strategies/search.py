"""Sequential search with backtracking over puzzles (Countdown, Game of 24, Sudoku), after
"To Backtrack or Not to Backtrack" (Qin et al. 2025): compare it with parallel best-of-N at
equal tokens.

- :class:`BacktrackSearch`: the model proposes next steps ("a op b = c", or
  "r3c5 = 7" for Sudoku); the puzzle adapter (:mod:`reasoners.puzzles`) checks
  each step exactly; search goes depth-first and backtracks when a branch has
  no valid step (after ``retries`` fresh samples) or reaches a dead state
  (``order="model"``), or best-first by
  the model's own logprob of each proposal list (``order="logprob"``). The
  search tree is a networkx graph in the trace. Out of budget, it returns the
  best state reached.
- :class:`LinearBacktrack`: one long generation that may say "backtrack" in
  text; its final answer is checked at the end. With ``backtrack=False`` it is a
  single direct attempt, the base that best-of-N samples in parallel.
"""

from __future__ import annotations

from typing import Any, Literal

import networkx as nx

from ..errors import BudgetExhausted, ConfigError
from ..problem import Candidate, Problem, Result
from ..puzzles import Puzzle, puzzle_for
from ..trace import span
from .base import Context, Strategy, register

__all__ = ["BacktrackSearch", "LinearBacktrack"]


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
        retries: int = 1,
    ) -> None:
        if proposals < 1 or max_expansions < 1 or retries < 0:
            raise ConfigError("search needs proposals >= 1, max_expansions >= 1 and retries >= 0")
        if order not in ("model", "logprob"):
            raise ConfigError("search order must be 'model' or 'logprob'")
        self.proposals = proposals
        self.order = order
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_expansions = max_expansions
        self.retries = retries

    async def _expand(self, puzzle: Puzzle[Any], state: Any, ctx: Context, i: int) -> tuple[list[tuple[str, Any]], float]:
        [c] = await ctx.generate(puzzle.propose_prompt(state, self.proposals), temperature=self.temperature,
                                 max_tokens=self.max_tokens, seed=ctx.seed * 1000 + i,
                                 logprobs=self.order == "logprob")
        return puzzle.children(state, c.text), c.mean_logprob or 0.0

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        puzzle = puzzle_for(problem)
        start = puzzle.start()
        tree = nx.DiGraph()
        tree.add_node(0, state=puzzle.describe(start), step="")
        best, best_id = start, 0
        frontier: list[tuple[float, int, Any]] = [(0.0, 0, start)]
        expansions, exhausted, solved = 0, False, None
        with span("search", self.name, order=self.order) as s:
            while frontier and expansions < self.max_expansions:
                if self.order == "logprob":
                    frontier.sort(key=lambda f: f[0])  # highest logprob last
                _, node_id, state = frontier.pop()  # depth-first: the newest child first
                try:
                    children, logprob = await self._expand(puzzle, state, ctx, expansions)
                except BudgetExhausted:
                    exhausted = True
                    break
                expansions += 1
                if not children:
                    asked = tree.nodes[node_id]["asked"] = tree.nodes[node_id].get("asked", 0) + 1
                    if asked <= self.retries:  # sampled proposals: ask again (a new seed) before giving up
                        frontier.append((logprob, node_id, state))
                    else:
                        tree.nodes[node_id]["dead"] = "no valid step"  # backtrack
                for step, child in reversed(children):  # keep the model's order for DFS pops
                    child_id = tree.number_of_nodes()
                    tree.add_node(child_id, state=puzzle.describe(child), step=step)
                    tree.add_edge(node_id, child_id)
                    if puzzle.distance(child) < puzzle.distance(best):
                        best, best_id = child, child_id
                    if puzzle.solved(child):
                        solved, best_id = child, child_id
                        break
                    if puzzle.dead(child):
                        tree.nodes[child_id]["dead"] = "dead end"
                        continue
                    frontier.append((logprob, child_id, child))
                if solved is not None:
                    break
            if s is not None:
                s.attrs.update(tree=nx.node_link_data(tree, edges="edges"), expansions=expansions,
                               solved=solved is not None)
        final = solved if solved is not None else best
        answer = puzzle.answer(final)
        ok = puzzle.check(answer)
        path = nx.shortest_path(tree, 0, best_id)
        steps = [tree.nodes[n]["step"] for n in path[1:]]
        return Result(answer if ok else None, confidence=1.0 if ok else 0.0,
                      candidates=[Candidate(" ; ".join(steps), answer, score=-puzzle.distance(final),
                                            source=self.name, metadata={"node": best_id})],
                      exhausted=exhausted, strategy=self.name,
                      metadata={"expansions": expansions, "nodes": tree.number_of_nodes(),
                                "best_state": puzzle.describe(final)})


@register("linear")
class LinearBacktrack(Strategy):
    """One long generation that backtracks in text; the final answer is checked exactly.

    ``backtrack=False`` asks for a direct solution instead: one parallel sample for best-of-N.
    """

    def __init__(self, *, max_tokens: int = 1024, temperature: float | None = None, backtrack: bool = True) -> None:
        if max_tokens < 1:
            raise ConfigError("linear max_tokens must be >= 1")
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.backtrack = backtrack

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        puzzle = puzzle_for(problem)
        opts: dict[str, Any] = {"max_tokens": self.max_tokens, "seed": ctx.seed}
        temperature = self.temperature if self.temperature is not None else ctx.temperature
        if temperature is not None:
            opts["temperature"] = temperature
        [c] = await ctx.generate(puzzle.linear_prompt(self.backtrack), **opts)
        answer = puzzle.parse_final(c.text)
        ok = puzzle.check(answer)
        return Result(answer if ok else None, confidence=1.0 if ok else 0.0,
                      candidates=[Candidate(c.text, answer, score=1.0 if ok else 0.0, source=self.name,
                                            metadata={"backtracks": c.text.lower().count("backtrack"),
                                                      "finish_reason": c.finish_reason})],
                      strategy=self.name)
