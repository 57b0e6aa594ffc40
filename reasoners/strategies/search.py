"""Sequential search with backtracking over puzzles (Countdown, Game of 24, Sudoku), after
"To Backtrack or Not to Backtrack" (Qin et al. 2025): compare it with parallel best-of-N at
equal tokens.

What the paper compares is *in-text* backtracking: it trains models on
serialised search traces so that one generation searches, backtracks and
answers. We do not train; the two strategies here are stand-ins on a prompted
model, and say so:

- :class:`BacktrackSearch` is an *external* tree search with an exact step
  checker, in the manner of Tree of Thoughts, not the paper's method: the model
  proposes next steps ("a op b = c", or "r3c5 = 7" for Sudoku); the puzzle
  adapter (:mod:`reasoners.domains.puzzles`) checks each step exactly; search goes
  depth-first and backtracks when a branch has no valid step (after ``retries``
  fresh samples) or reaches a dead state (``order="model"``), or best-first by
  the model's own logprob of each proposal list (``order="logprob"``). The
  search tree is a networkx graph in the trace. Out of budget, it returns the
  best state reached.
- :class:`LinearBacktrack` is the prompt-based analogue of the paper's in-text
  backtracking: one long generation, asked to search and to write "backtrack"
  when a line fails; its final answer is checked at the end. With
  ``backtrack=False`` it is a single direct attempt, the base that best-of-N
  samples in parallel.
"""

from __future__ import annotations

from typing import Any, Literal

import networkx as nx

from ..core.errors import BudgetExhausted
from ..core.problem import Candidate, Problem, Result
from ..core.trace import span
from ..domains.puzzles import Puzzle, puzzle_for
from .base import Context, Strategy, register
from .params import param, settings

__all__ = ["BacktrackSearch", "LinearBacktrack"]


@register("search")
@settings
class BacktrackSearch(Strategy):
    """External depth-first (or logprob best-first) tree search over model-proposed steps, each
    checked exactly, backtracking from dead branches (Tree-of-Thoughts-like; not the paper's
    in-text backtracking, for which see :class:`LinearBacktrack`).

    ``max_expansions`` caps the model calls; by default it scales with the puzzle:
    ``max(50, 4 x`` the fewest steps a solution takes``)``, so a Sudoku with 45 blanks
    gets 180 and a four-number Countdown 50.
    """

    proposals: int = param(default=4, ge=1)
    order: Literal["model", "logprob"] = "model"
    temperature: float = 0.7
    max_tokens: int = 128
    max_expansions: int | None = param(default=None, ge=1)
    retries: int = param(default=1, ge=0)

    async def _expand(self, puzzle: Puzzle[Any], state: Any, ctx: Context, i: int) -> tuple[list[tuple[str, Any]], float]:
        [c] = await ctx.generate(puzzle.propose_prompt(state, self.proposals), temperature=self.temperature,
                                 max_tokens=self.max_tokens, seed=ctx.seed_for(i),
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
        limit = self.max_expansions or max(50, 4 * puzzle.steps_left(start))
        failed_before, answered = len(ctx.failures), 0
        with span("search", self.name, order=self.order, max_expansions=limit) as s:
            while frontier and expansions < limit:
                if self.order == "logprob":
                    frontier.sort(key=lambda f: f[0])  # highest logprob last
                _, node_id, state = frontier.pop()  # depth-first: the newest child first
                try:
                    # A proposal whose call fails after its retries is a failed sample: no valid step.
                    out = await ctx.attempt(self._expand(puzzle, state, ctx, expansions), f"expansion {expansions}")
                except BudgetExhausted:
                    exhausted = True
                    break
                expansions += 1
                answered += out is not None
                children, logprob = out if out is not None else ([], 0.0)
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
        ctx.raise_if_nothing_succeeded(answered > 0, failed_before)
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
@settings
class LinearBacktrack(Strategy):
    """One long generation that backtracks in text (the prompt-based analogue of the paper's trained
    in-text backtracking); the final answer is checked exactly.

    ``backtrack=False`` asks for a direct solution instead: one parallel sample for best-of-N.
    """

    max_tokens: int = param(default=1024, ge=1)
    temperature: float | None = None
    backtrack: bool = True

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        puzzle = puzzle_for(problem)
        opts: dict[str, Any] = {"max_tokens": self.max_tokens, "seed": ctx.seed}
        if self.temperature is not None:  # else the run's (a sampler's, the caller's, the client's)
            opts["temperature"] = self.temperature
        [c] = await ctx.generate(puzzle.linear_prompt(self.backtrack), **opts)
        answer = puzzle.parse_final(c.text)
        ok = puzzle.check(answer)
        return Result(answer if ok else None, confidence=1.0 if ok else 0.0,
                      candidates=[Candidate(c.text, answer, score=1.0 if ok else 0.0, source=self.name,
                                            metadata={"backtracks": c.text.lower().count("backtrack"),
                                                      "finish_reason": c.finish_reason})],
                      strategy=self.name)
