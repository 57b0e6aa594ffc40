"""Auto-CoT (Zhang et al. 2022): build few-shot demos automatically from a pool of questions.

Cluster the pool (k-means over embeddings) so the demos are diverse; in each
cluster, walk the questions from the one nearest the centroid outwards and take
the first whose zero-shot "Let's think step by step." rationale passes simple
filters (question <= 60 words, rationale <= 5 lines before its last answer sentence,
an extractable answer).
The demos then prompt few-shot chain of thought.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np

from ..answers import same_answer
from ..core.budget import Budget, Meter, meter_for
from ..core.errors import BudgetExhausted, ConfigError
from ..core.problem import AnswerKind, Problem, Result
from ..core.trace import span
from ..domains.demos import Demo, DemoAudit, Demos, audit_demo, demos_from
from ..embedding.embedders import Embedder, TfidfEmbedder
from ..llm.client import LLM
from .base import Context, Strategy, register
from .cot import ChainOfThought
from .params import param, settings

__all__ = ["AutoCoT", "count_steps", "cluster_order"]

log = logging.getLogger(__name__)


_ANSWER_SENTENCE = re.compile(r"(?i)(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)")
_MARKUP = re.compile(r"^\s*(?:\\\[|\\\]|\$\$|```\w*|-{3,}|\*{3,})\s*$")


def count_steps(rationale: str) -> int:
    """Reasoning steps as the reference counts them: non-empty lines, the final answer sentence not counted.

    Lines that are only markup (display-math delimiters, code fences, rules) are not steps.
    A one-paragraph rationale is one step, however many sentences it has.
    """
    body = _rationale(rationale)
    return len([ln for ln in body.splitlines() if ln.strip() and not _MARKUP.match(ln)])


def cluster_order(embeddings: np.ndarray, k: int, seed: int) -> list[list[int]]:
    """k-means (scikit-learn, fixed seed); each cluster's members ordered by distance to its centroid."""
    from sklearn.cluster import KMeans

    k = min(k, len(np.unique(embeddings, axis=0)))  # no more clusters than distinct points
    km = KMeans(n_clusters=k, random_state=seed, n_init=10).fit(embeddings)
    clusters = []
    for c in range(k):
        members = np.flatnonzero(km.labels_ == c)
        if not len(members):  # a centroid no point is nearest to
            continue
        dist = np.linalg.norm(embeddings[members] - km.cluster_centers_[c], axis=1)
        clusters.append([int(members[i]) for i in np.lexsort((members, dist))])
    # Clusters in a stable order: by their nearest member's pool index.
    return sorted(clusters, key=lambda members: members[0])


def _answer_near_end(rationale: str, answer: str | None) -> bool:
    """The reference's check for arithmetic: the answer appears in the rationale's last sentence
    or among its last 10 words; as a whole token in both (the reference matches a substring of
    the sentence, so "2" passed inside "12", and the words exactly, so "12." failed)."""
    if not answer:
        return False
    # Whole tokens only: "2" is not in "12" or "2.5"; thousands separators are dropped first.
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", rationale)
    token = re.compile(rf"(?<![\w.]){re.escape(answer)}(?!\w|\.\d)")
    sentences = [x for x in re.split(r"\.(?!\d)", text) if x.strip()]
    last = sentences[-1] if sentences else ""
    return bool(token.search(last)) or any(token.search(w) for w in text.split()[-10:])


def _rationale(text: str) -> str:
    """The reasoning before the *last* answer sentence ("To find the answer: ..." is reasoning)."""
    last = None
    for last in _ANSWER_SENTENCE.finditer(text):
        pass
    return text[: last.start()].strip() if last is not None else text.strip()


@register("autocot")
@settings
class AutoCoT(Strategy):
    """Few-shot chain of thought with demos built automatically from ``pool``.

    Pass ``pool`` (questions, strings) and ``k`` clusters, or ready ``demos``
    (e.g. from :meth:`load`). :meth:`prepare` (called by the harness, CLI and
    server; :meth:`~Strategy.aprepared` or :meth:`~Strategy.prepared` by hand) returns a
    copy holding the demos built for a model, so they are built once for many questions.
    A strategy is never changed by a run: without preparing, each run builds the demos it
    uses (charged to it and traced) and ``result.metadata["built_demos"]`` holds them.
    :meth:`save` writes demos to JSON for reuse.
    """

    pool: Pool | Sequence[str] | str | Path = param(default=(), kw_only=False)
    k: int = param(default=8, ge=1)
    demos: Demos | Sequence[Demo] | str | Path | None = None
    embedder: Embedder | None = None  # None: TF-IDF
    kind: AnswerKind = "number"
    max_question_words: int = 60
    max_steps: int = 5
    max_tries: int | None = param(default=None, ge=1)  # None: try the whole cluster
    demo_max_tokens: int = 256
    seed: int = 0
    temperature: float | None = None
    max_tokens: int | None = None
    audit: Literal["warn", "reject"] = "warn"
    filters: Literal["default", "reference"] = "default"
    selection: Literal["cluster", "random", "retrieval"] = "cluster"

    def __post_init__(self) -> None:
        if self.selection == "retrieval" and self.demos is not None:
            raise ConfigError("AutoCoT selection='retrieval' picks demos per question from the pool; give no demos")
        if self.demos is None and not self.pool:
            raise ConfigError("AutoCoT needs a pool of questions or ready demos")
        pool = self.pool
        object.__setattr__(self, "pool", _read_pool(pool) if isinstance(pool, (str, Path)) else
                           pool if isinstance(pool, Pool) else Pool(pool))
        if self.demos is not None:  # given or prepared: read and audited once, here
            given = demos_from(self.demos, owner="AutoCoT")
            kept = self._checked(list(given))
            if len(kept) != len(given):
                kept_demos = Demos(kept)
                kept_demos.path = given.path  # re-read from the file, the audit drops them again
                given = kept_demos
            object.__setattr__(self, "demos", given)
        super().__post_init__()

    @classmethod
    def paper(cls, pool: Sequence[str] | str | Path = (), **overrides: Any) -> AutoCoT:
        """The paper's setting (Zhang et al. 2022) as its reference code runs it: k = 8 clusters (the
        GSM8K setting), each walked from its centre, and the reference's filters: question <= 60
        words, rationale <= 5 lines, ending with a full stop, and for arithmetic the answer in its
        last sentence or last 10 words. The encoder is the reference's, all-MiniLM-L6-v2
        (:class:`~reasoners.embedding.minilm.MiniLMEmbedder`), when its weights package is installed, and
        TF-IDF otherwise (``encoder`` says which)."""
        from ..embedding.minilm import MiniLMEmbedder, minilm_available

        settings: dict[str, Any] = {"k": 8, "max_steps": 5, "max_question_words": 60, "filters": "reference",
                                    "selection": "cluster", "max_tries": None}
        if minilm_available():
            settings["embedder"] = MiniLMEmbedder()
        return cls(pool, **{**settings, **overrides})

    @property
    def questions(self) -> Pool:
        """The pool's questions (a file's path becomes its questions when the strategy is built)."""
        return cast(Pool, self.pool)  # __post_init__ made it one

    @property
    def encoder(self) -> Embedder:
        """The embedder clustering uses: the one given, else TF-IDF."""
        return self.embedder or TfidfEmbedder()

    async def build(self, ctx: Context) -> list[Demo]:
        """Cluster the pool and pick one passing demo per cluster (clusters with none are skipped;
        none at all is a :class:`ConfigError`, since no demos would be plain zero-shot CoT)."""
        rejected: Counter[str] = Counter()
        with span("autocot.build", "autocot", pool=len(self.questions), k=self.k, selection=self.selection) as s:
            if self.selection == "random":  # the paper's Random-Q-CoT baseline: k questions drawn at random
                eligible = [i for i, q in enumerate(self.questions) if len(q.split()) <= self.max_question_words]
                groups = [[i] for i in random.Random(self.seed).sample(eligible, min(self.k, len(eligible)))]
            else:
                groups = cluster_order(await self.encoder.aembed(self.questions), self.k, self.seed)
            picks = await asyncio.gather(*(self._pick(members, ctx, rejected) for members in groups))
            demos = [d for d, _ in picks if d is not None]
            if s is not None:
                s.attrs.update(clusters=groups, demos=[asdict(d) for d in demos], rejected=dict(rejected))
        if not demos:  # without demos this would silently be zero-shot chain of thought
            if any(out_of_budget for _, out_of_budget in picks):
                raise BudgetExhausted("AutoCoT ran out of budget before it had a demo")
            why = ", ".join(f"{n} {reason}" for reason, n in rejected.most_common()) or "no question was tried"
            raise ConfigError(
                f"AutoCoT built no demos for {ctx.llm.model} from {len(groups)} groups; rejected: {why}. "
                "Raise max_steps (models that write markdown use more lines per step), max_tries or demo_max_tokens"
                + ("; or use filters='default' (models that end with \\boxed{N} fail the reference's)"
                   if self.filters == "reference" else "")
            )
        return demos

    async def _pick(self, members: list[int], ctx: Context, rejected: Counter[str]) -> tuple[Demo | None, bool]:
        """The group's demo (None if no tried question passed) and whether the budget ran out;
        each question turned down is counted in ``rejected`` under the filter that did it."""
        zero_shot = ChainOfThought(temperature=0.0, max_tokens=self.demo_max_tokens)
        tries = 0
        for i in members:
            question = self.questions[i]
            if len(question.split()) > self.max_question_words:
                rejected[f"over {self.max_question_words} words"] += 1
                continue
            if self.max_tries is not None and tries >= self.max_tries:
                return None, False
            tries += 1
            result = await ctx.delegate(zero_shot, Problem(question, kind=self.kind))
            if result.exhausted:
                return None, True
            reason = self._filter(result)
            if reason is not None:
                rejected[reason] += 1
                continue
            demo = Demo(question, _rationale(result.candidates[0].text), result.answer or "",
                        source=f"autocot:{ctx.llm.model}")
            if self.audit == "reject" and not audit_demo(demo, kind=self.kind).ok:
                rejected["failing the audit"] += 1
                continue  # the audit is one more filter: try the group's next question
            return demo, False
        return None, False

    def _filter(self, result: Result) -> str | None:
        """Why a zero-shot chain makes no demo (None: it does)."""
        if result.answer is None or not result.candidates:
            return "with no answer"
        if result.candidates[0].truncated:
            return "cut off"  # the rationale does not end in its answer
        if self.selection == "random":
            return None  # Random-Q-CoT keeps any chain with an answer
        rationale = _rationale(result.candidates[0].text)
        if count_steps(rationale) > self.max_steps:
            return f"over {self.max_steps} lines"
        if self.filters == "reference":
            if not rationale.endswith("."):
                return "not ending with a full stop"
            if self.kind == "number" and not _answer_near_end(rationale, result.answer):
                return "without the answer in the last sentence or last 10 words"
        return None

    async def prepare(self, ctx: Context) -> AutoCoT:
        """A copy of this AutoCoT holding demos built for ``ctx.llm`` (charged to ``ctx``), or this
        one when its demos are given already. Retrieval picks demos per question, so there is
        nothing to prepare."""
        if self.selection == "retrieval" or self.demos is not None:
            return self
        return replace(self, demos=Demos(self._checked(await self.build(ctx))))

    def _checked(self, demos: list[Demo]) -> list[Demo]:
        """The demos after the static audit: flagged ones are logged (``warn``) or dropped (``reject``)."""
        audits = [audit_demo(d, kind=self.kind) for d in demos]
        flagged = [a for a in audits if not a.ok]
        for a in flagged:
            log.warning("Auto-CoT demo %s (%s) %s: %s", a.demo.source or "given in code", a.demo.digest[:12],
                        "rejected" if self.audit == "reject" else "flagged", "; ".join(a.findings))
        if self.audit == "warn":
            return demos
        kept = [a.demo for a in audits if a.ok]
        if not kept:
            raise ConfigError(f"AutoCoT audit rejected all {len(demos)} demos: " + flagged[0].findings[0])
        return kept

    @classmethod
    async def audit_demos(
        cls, demos: Sequence[Demo], *, llm: LLM, budget: Budget | Meter | None = None, kind: AnswerKind = "number"
    ) -> list[DemoAudit]:
        """Audit ``demos``: the static checks of :func:`reasoners.domains.demos.audit_demo`, and the model
        re-solves each demo's question (zero-shot chain of thought, greedy) and a disagreement with
        the demo's answer is flagged. The model runs only here, all of it charged to ``budget``."""
        meter = meter_for(budget)
        audits = [audit_demo(d, kind=kind) for d in demos]
        solver = ChainOfThought(temperature=0.0)
        for a in audits:
            result = await solver.arun(Problem(a.demo.question, kind=kind), llm=llm, budget=meter)
            if result.exhausted and result.answer is None:
                a.findings.append("not re-solved: the budget ran out")
            elif not same_answer(result.answer, a.demo.answer, kind):
                a.findings.append(f"the model re-solves it as {result.answer!r}, the demo says {a.demo.answer!r}")
        return audits

    async def _retrieved(self, problem: Problem, ctx: Context) -> list[Demo]:
        """The paper's Retrieval-Q-CoT baseline: the k pool questions most similar to this one
        (cosine over the embedder's vectors), each with its zero-shot chain."""
        others = [i for i, q in enumerate(self.questions) if q.strip() != problem.question.strip()]
        vectors = await self.encoder.aembed([self.questions[i] for i in others] + [problem.question])
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        similarity = unit[:-1] @ unit[-1]
        nearest = [others[j] for j in np.argsort(-similarity, kind="stable")[: self.k]]
        rejected: Counter[str] = Counter()
        with span("autocot.retrieve", "autocot", nearest=nearest) as s:
            picks = await asyncio.gather(*(self._pick([i], ctx, rejected) for i in nearest))
            if s is not None:
                s.attrs["rejected"] = dict(rejected)
        return [d for d, _ in picks if d is not None]

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        built: list[Demo] | None = None
        if self.demos is not None:
            demos: list[Demo] = list(cast(Demos, self.demos))  # __post_init__ read and audited them
        elif self.selection == "retrieval":
            demos = await self._retrieved(problem, ctx)
        else:  # not prepared: this run builds its own demos (prepare once to share them)
            demos = built = self._checked(await self.build(ctx))
        cot = ChainOfThought(demos=demos, temperature=self.temperature, max_tokens=self.max_tokens)
        result = await cot.solve(problem, ctx)
        result.strategy = self.name
        result.metadata["demos"] = len(demos)
        result.metadata["demo_sources"] = sorted({d.source for d in demos if d.source})
        if built is not None:
            result.metadata["built_demos"] = [d.to_dict() for d in built]
        return result

    @staticmethod
    def save(path: str | Path, demos: Sequence[Demo]) -> None:
        """Write ``demos`` as JSON (a list of {question, rationale, answer})."""
        Path(path).write_text(json.dumps([d.to_dict() for d in demos], indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> AutoCoT:
        """An AutoCoT that uses the demos saved at ``path``."""
        return cls(demos=path, **kwargs)


class Pool(tuple[str, ...]):
    """Auto-CoT's questions, with the file they were read from (``path``), which a spec writes back."""

    path: str | None = None


def _read_pool(path: str | Path) -> Pool:
    """Questions from a text file (one per line) or JSONL (a ``question`` field per line)."""
    try:
        lines = [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]
        questions = [json.loads(ln)["question"] for ln in lines] if str(path).endswith(".jsonl") else lines
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"cannot read the Auto-CoT pool from {path}: {e}") from e
    if not questions:
        raise ConfigError(f"the Auto-CoT pool {path} has no questions (one per line, or JSONL with 'question')")
    pool = Pool(questions)
    pool.path = str(path)
    return pool
