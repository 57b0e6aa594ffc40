"""CodeChain (Le et al. 2024, "CodeChain: Towards Modular Code Generation Through Chain of
Self-revisions with Representative Sub-modules").

Round 0 asks for modular code: first the helper functions' headers and
docstrings, then the implementation. Samples that pass the public tests (run in
the sandbox) give up their sub-modules: the helper functions their plan
declares, found with ``ast``, never the function the tests call. The sub-modules
are embedded and clustered (k-means), and the one nearest each centroid becomes
a reusable "representative sub-module". Each revision round shows these to the
model and samples again, with fewer clusters every round; a round where nothing
passes re-clusters the latest passing sub-modules at its own k. The answer is a
solution of the last round that passes the public tests.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from ..answers import extract_code
from ..core.errors import BudgetExhausted, ConfigError
from ..core.packages import fewshot_file
from ..core.problem import Candidate, Problem, Result
from ..core.trace import span
from ..domains.code import public_tests, run_tests, run_unit_tests
from ..embedding.embedders import Embedder, TfidfEmbedder
from ..llm.types import Completion
from ..sandbox import Sandbox
from .autocot import cluster_order
from .base import Context, Strategy, register
from .params import param, settings

__all__ = ["CodeChain", "extract_functions", "planned_helpers", "sub_modules", "tested_functions"]

MODULAR_INSTRUCTION = (
    "Solve the problem in Python with modular code. First write the headers and docstrings of the "
    "helper functions you need (as a plan), then write the complete implementation, helpers included, "
    "in one ```python code block."
)

REVISION_INSTRUCTION = (
    "Here are sub-modules from earlier good solutions; reuse or adapt them if they help:\n\n"
    "```python\n{modules}\n```\n\n" + MODULAR_INSTRUCTION
)


def extract_functions(code: str, *, names: Collection[str] | None = None, exclude: Collection[str] = ()) -> list[str]:
    """Source of the top-level functions in ``code`` (empty if it does not parse): all of them,
    or only those named in ``names``, never those in ``exclude``."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    out = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name in exclude:
            continue
        if names is not None and node.name not in names:
            continue
        segment = ast.get_source_segment(code, node)
        if segment:
            out.append(segment)
    return out


_DEF = re.compile(r"\bdef\s+([A-Za-z_]\w*)\s*\(")


def planned_helpers(text: str, code: str) -> set[str]:
    """The function names the model's plan declares: ``def`` headers in the reply outside its final code."""
    plan = text.replace(code, "", 1) if code else text
    return set(_DEF.findall(plan))


def tested_functions(problem: Problem, tests: Sequence[str]) -> set[str]:
    """The functions the tests call: the entry point (HumanEval) and every function named in a public
    test's calls (MBPP's ``assert f(...) == ...``). These are the solution, not sub-modules."""
    names = {str(problem.metadata["entry_point"])} if problem.metadata.get("entry_point") else set()
    for test in tests:
        try:
            tree = ast.parse(test)
        except SyntaxError:
            continue
        names |= {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return names


_PLAN_DOC = re.compile(r"""\bdef\s+([A-Za-z_]\w*)\s*\([^)]*\)[^:\n]*:\s*(?:\"\"\"|\'\'\')(.*?)(?:\"\"\"|\'\'\')""", re.S)


def sub_modules(text: str, code: str, solution: Collection[str]) -> list[str]:
    """The reusable sub-modules of one passing sample: the helpers its plan declares, implemented in
    ``code``, without the ``solution`` functions the tests call. A reply with no plan of its own
    (no ``def`` header outside the code) offers every non-solution function instead."""
    planned = planned_helpers(text, code) - set(solution)
    return extract_functions(code, names=planned or None, exclude=solution)


def embedding_text(module: str, text: str, code: str) -> str:
    """What a sub-module is clustered by: its docstring and its code, as the reference embeds
    them. A helper whose code has no docstring takes the one its plan (in ``text``) gave it."""
    if '"""' in module or "'''" in module:
        return module
    plan = text.replace(code, "", 1) if code else text
    name = _DEF.search(module)
    docs = {n: " ".join(d.split()) for n, d in _PLAN_DOC.findall(plan) if d.strip()}
    doc = docs.get(name.group(1)) if name else None
    return f"{doc}\n{module}" if doc else module


@register("codechain")
@settings
class CodeChain(Strategy):
    """Modular generation and self-revision with clustered representative sub-modules.

    ``n`` samples per round, ``rounds`` revision rounds after round 0, ``clusters``
    the first round's k (shrinking by ``shrink`` each round, at least 1). Public tests
    come from ``problem.metadata["public_tests"]`` or the prompt's docstring examples.

    Sub-modules are the helpers each passing sample's plan declares, never the
    function the tests call. The answer is a test-filtered pick; with ``pass_at_1``
    (and hidden ``problem.tests``) every sample is also run on the hidden tests, for
    reporting only, and ``result.metadata["pass_at_1"]`` is the paper's metric: the
    share of the last round's samples that pass them.
    """

    runs_code = True  # it executes model-written code (in the sandbox)

    n: int = param(default=8, ge=1)
    rounds: int = param(default=2, ge=0)
    clusters: int = param(default=4, ge=1)
    shrink: int = param(default=1, ge=0)
    temperature: float = 0.7
    max_tokens: int | None = None
    embedder: Embedder | None = None  # None: TF-IDF
    sandbox: Sandbox | None = None  # None: a Sandbox with a 10 s timeout
    seed: int = 0
    pass_at_1: bool = True
    one_shot: bool = False

    @classmethod
    def paper(cls, **overrides: Any) -> CodeChain:
        """The paper's setting (Le et al. 2024): a one-shot first-step prompt (a worked plan-then-
        implement example, ``reasoners/data/fewshot/codechain_oneshot.json``), 20 samples per
        round, 5 revision rounds with k = 5, 4, 3, 2, 1 clusters. That is 120 generations per
        problem plus the sandbox runs; a budget caps the rounds (a round that does not fit is
        not started, and the last finished round answers)."""
        settings: dict[str, Any] = {"n": 20, "rounds": 5, "clusters": 5, "shrink": 1, "one_shot": True}
        return cls(**{**settings, **overrides})

    @property
    def encoder(self) -> Embedder:
        """The embedder clustering uses: the one given, else TF-IDF."""
        return self.embedder or TfidfEmbedder()

    @property
    def runner(self) -> Sandbox:
        """The sandbox the tests run in: the one given, else one with a 10 s timeout."""
        return self.sandbox or Sandbox(timeout=10)

    def messages(self, problem: Problem, modules: list[str]) -> list[dict[str, str]]:
        instruction = REVISION_INSTRUCTION.format(modules="\n\n".join(modules)) if modules else MODULAR_INSTRUCTION
        shot: list[dict[str, str]] = []
        if self.one_shot:
            example = json.loads(fewshot_file("codechain_oneshot.json").read_text(encoding="utf-8"))
            shot = [{"role": "user", "content": f"{example['problem']}\n\n{MODULAR_INSTRUCTION}"},
                    {"role": "assistant", "content": example["reply"]}]
        return [*shot, {"role": "user", "content": f"{problem.question.strip()}\n\n{instruction}"}]

    async def _round(self, problem: Problem, ctx: Context, modules: list[str], r: int) -> list[Candidate]:
        opts: dict[str, Any] = {"temperature": self.temperature}
        if self.max_tokens:
            opts["max_tokens"] = self.max_tokens
        # Distinct seeds per round, so a round whose prompt did not change still draws new samples;
        # spaced by 1,000 since the client gives each of the n samples seed + i.
        seed = ctx.seed_for(r) * 1_000
        completions = await ctx.generate(self.messages(problem, modules), n=self.n, seed=seed, **opts)
        tests = public_tests(problem)

        async def judge(c: Completion, i: int) -> Candidate:
            code = extract_code(c.text) or ""
            result = await run_tests(problem, code, tests, self.runner) if code else None
            passed = bool(result and result.passed)
            meta: dict[str, Any] = {"round": r, "public_passed": passed, "finish_reason": c.finish_reason,
                                    "reason": result.reason if result else "no code"}
            if self.pass_at_1 and problem.tests:  # for reporting only: never used to choose
                meta["hidden_passed"] = await run_unit_tests(problem, code or None)
            return Candidate(text=c.text, answer=code or None, score=1.0 if passed else 0.0,
                             source=f"codechain.r{r}#{i}", metadata=meta)

        return list(await asyncio.gather(*(judge(c, i) for i, c in enumerate(completions))))

    async def _representatives(self, modules: list[tuple[str, str]], k: int) -> list[str]:
        """The sub-module nearest each of ``k`` centroids, of ``modules`` (code, text to embed).
        Every occurrence is clustered, as in the reference: a helper many samples share weighs as
        often as it occurs and pulls its centroid."""
        unique = list(dict.fromkeys(code for code, _ in modules))
        if len(unique) <= k:
            return unique
        emb = await self.encoder.aembed([embedded for _, embedded in modules])
        if not np.isfinite(emb).all():
            return unique[:k]
        return list(dict.fromkeys(modules[members[0]][0] for members in cluster_order(emb, k, self.seed)))

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        if problem.kind != "code":
            raise ConfigError("CodeChain solves code problems (Problem(kind='code'))")
        solution = tested_functions(problem, public_tests(problem))
        modules: list[str] = []
        pool: list[tuple[str, str]] = []  # (code, text embedded) of the sub-modules of the latest round that had a passing sample
        history: list[dict[str, Any]] = []
        best: list[Candidate] = []
        all_candidates: list[Candidate] = []
        exhausted = False
        for r in range(self.rounds + 1):
            with span("codechain.round", f"round {r}", modules=len(modules)) as s:
                try:
                    candidates = await self._round(problem, ctx, modules, r)
                except BudgetExhausted:  # anytime: the rounds already done answer
                    exhausted = True
                    break
                all_candidates += candidates
                passing = [c for c in candidates if c.metadata["public_passed"]]
                if passing:
                    best = passing
                    pool = [(f, embedding_text(f, c.text, c.answer or "")) for c in passing
                            for f in sub_modules(c.text, c.answer or "", solution)]
                k = max(1, self.clusters - self.shrink * r)
                # A round with no passing sample re-clusters the latest passing sub-modules at this round's k.
                modules = await self._representatives(pool, k) if pool else []
                entry: dict[str, Any] = {"round": r, "passed": len(passing), "samples": len(candidates), "k": k,
                                         "representatives": modules}
                hidden = [c.metadata["hidden_passed"] for c in candidates if "hidden_passed" in c.metadata]
                if hidden:
                    entry["pass_at_1"] = sum(hidden) / len(hidden)
                history.append(entry)
                if s is not None:
                    s.attrs.update(history[-1])
        final = best or [c for c in all_candidates if c.answer] or all_candidates
        answer = final[0].answer if final else None
        last = all_candidates[-self.n :] if all_candidates else []
        confidence = sum(1 for c in last if c.metadata.get("public_passed")) / len(last) if last else 0.0
        ranked = final + [c for c in all_candidates if c not in final]
        metadata: dict[str, Any] = {"rounds": history, "public_tests": len(public_tests(problem))}
        if history and "pass_at_1" in history[-1]:
            metadata["pass_at_1"] = history[-1]["pass_at_1"]  # the paper's metric: the last round's samples
        return Result(answer, confidence=confidence, candidates=ranked, exhausted=exhausted, strategy=self.name,
                      metadata=metadata)
