"""ProbTree (Cao et al. 2023, "Probabilistic Tree-of-thought Reasoning for Answering
Knowledge-intensive Complex Questions").

The model first decomposes the question into a tree of sub-questions (JSON;
later siblings may refer to earlier answers as ``<1>``, ``<2>``). The tree is
answered bottom-up. Every node gets a closed-book answer (the model's own
knowledge) and an open-book one (from retrieved passages, "Unknown" allowed);
inner nodes also get a child-aggregation answer (from their children's
question-answer pairs). Each answer's confidence is the mean token logprob of
its reasoning; the most confident answer is kept, so the tree uses retrieval
where the model is unsure and its own knowledge where retrieval is noise.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx

from ..answers import normalize
from ..core.errors import BudgetExhausted, CapabilityError
from ..core.packages import fewshot_file
from ..core.problem import Candidate, Problem, Result
from ..core.trace import span
from ..llm.types import Completion
from .base import Context, Strategy, register
from .params import param, settings
from .rag import retrieve_passages

__all__ = ["ProbTree", "parse_tree", "answer_confidence", "final_answer", "UNSCORED", "BARE"]

UNSCORED = -1e9  # unknown, no answer, or cut off: ranks below any real confidence
BARE = -5e8  # an answer with no reasoning before it: below every reasoned answer, above no answer

DECOMPOSE = (
    "Decompose the question into a tree of simpler sub-questions, written as JSON. Each key is a "
    "question and its value is the list of sub-questions that answer it; a sub-question may refer to "
    "the answer of an earlier sibling as <1>, <2>, .... Questions that need no decomposition are not "
    "keys. Example:\n"
    'Question: Who is the spouse of the director of Titanic?\n'
    '{{"Who is the spouse of the director of Titanic?": ["Who directed Titanic?", "Who is the spouse of <1>?"]}}\n'
    "Question: {question}\n"
)
CLOSED_BOOK = (
    "Answer the question from your own knowledge. Reason briefly, then finish with "
    "'So the answer is: <answer>.'\nQuestion: {question}"
)
OPEN_BOOK = (
    "Answer the question using only the passages below. Reason briefly, then finish with "
    "'So the answer is: <answer>.' If the passages do not tell, finish with 'So the answer is: Unknown.'\n\n"
    "{passages}\n\nQuestion: {question}"
)
AGGREGATE = (
    "Answer the question using the answers to its sub-questions. Reason briefly, then finish with "
    "'So the answer is: <answer>.'\n\n{pairs}\n\nQuestion: {question}"
)


@dataclass(frozen=True)
class Prompts:
    """The four prompts of a tree: zero-shot (the default) or few-shot (the paper's setting)."""

    decompose: str
    closed_book: str
    open_book: str
    aggregate: str

    @classmethod
    def few_shot(cls) -> Prompts:
        """Each zero-shot instruction followed by worked examples (``reasoners/data/fewshot/probtree.json``)."""
        data = json.loads(fewshot_file("probtree.json").read_text(encoding="utf-8"))
        tree_examples = "".join(f"Question: {e['question']}\nTree: {json.dumps(e['tree'])}\n\n"
                                for e in data["decompose"])
        closed = "".join(f"Question: {e['question']}\n{e['reasoning']} So the answer is: {e['answer']}.\n\n"
                         for e in data["closed_book"])
        opened = "".join(  # passages numbered as retrieve_passages numbers them
            "\n\n".join(f"[{i + 1}] {p}" for i, p in enumerate(e["passages"]))
            + f"\n\nQuestion: {e['question']}\n{e['reasoning']} So the answer is: {e['answer']}.\n\n"
            for e in data["open_book"])
        aggregated = "".join(
            "\n".join(f"Q: {q}\nA: {a}" for q, a in e["pairs"])
            + f"\nQuestion: {e['question']}\n{e['reasoning']} So the answer is: {e['answer']}.\n\n"
            for e in data["aggregate"])
        head = DECOMPOSE.split("Example:")[0]
        return cls(
            decompose=head + "Examples:\n\n" + _braces(tree_examples) + "Question: {question}\nTree:",
            closed_book=CLOSED_BOOK.split("\nQuestion:")[0] + "\n\n" + _braces(closed) + "Question: {question}",
            open_book=OPEN_BOOK.split("\n\n{passages}")[0] + "\n\n" + _braces(opened)
            + "{passages}\n\nQuestion: {question}",
            aggregate=AGGREGATE.split("\n\n{pairs}")[0] + "\n\n" + _braces(aggregated) + "{pairs}\nQuestion: {question}",
        )


def _braces(text: str) -> str:
    """``text`` made safe inside a ``str.format`` template."""
    return text.replace("{", "{{").replace("}", "}}")


ZERO_SHOT = Prompts(DECOMPOSE, CLOSED_BOOK, OPEN_BOOK, AGGREGATE)

_MARKER = re.compile(r"(?:so\s+)?the\s+answer\s+is\s*:?\s*", re.I)


@dataclass
class Node:
    id: str
    question: str
    children: list[str] = field(default_factory=list)
    decomposition_confidence: float | None = None  # unknown: left out of the aggregation average
    candidates: list[Candidate] = field(default_factory=list)
    answer: str | None = None
    confidence: float = UNSCORED


def _repair(text: str) -> Any:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object")
    blob = text[start : end + 1]
    for attempt in (blob, re.sub(r",\s*([\]}])", r"\1", blob.replace("'", '"'))):
        try:
            return json.loads(attempt)
        except ValueError:
            continue
    raise ValueError("not valid JSON, even after repair")


def parse_tree(question: str, text: str, *, max_depth: int = 2, max_children: int = 4) -> tuple[nx.DiGraph, str]:
    """The decomposition in ``text`` as a DiGraph rooted at node ``"0"``, and a note on what was done.

    Each node keeps its ``question`` and, when the JSON gave it sub-questions, the ``key`` it
    had there (the root's key is the one chosen as root, which may paraphrase the question);
    :func:`list_confidences` is keyed the same way. Malformed output is repaired (single
    quotes, trailing commas) or falls back to a one-node tree. Depth and breadth beyond the
    limits are cut.
    """
    graph = nx.DiGraph()
    graph.add_node("0", question=question, key=None)
    try:
        data = _repair(text)
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v) for k, v in data.items()
        ):
            raise ValueError("expected {question: [sub-question, ...]}")
    except ValueError as e:
        return graph, f"fallback to one node: {e}"
    if not data:
        return graph, "fallback to one node: empty decomposition"
    children_of = {k.strip(): v for k, v in data.items()}
    if question.strip() in children_of:
        root_key = question.strip()
    else:  # a paraphrase of the question; a small model may decompose a prompt's example instead
        root_key = max(children_of, key=lambda k: _overlap(k, question))
        if _overlap(root_key, question) == 0:
            return graph, f"fallback to one node: the decomposition is of another question ({root_key!r})"
    graph.nodes["0"]["key"] = root_key

    def grow(node: str, key: str, depth: int) -> None:
        if depth >= max_depth:
            return
        for i, sub in enumerate(children_of.get(key, [])[:max_children]):
            child = f"{node}.{i + 1}"
            graph.add_node(child, question=sub.strip(), key=sub.strip() if sub.strip() in children_of else None)
            graph.add_edge(node, child)
            grow(child, sub.strip(), depth + 1)

    grow("0", root_key, 0)
    note = "parsed" if root_key == question.strip() else f"parsed; root taken from key {root_key!r}"
    return graph, note


_STOP = frozenset("a an the of in on to for by with is are was were be what who which whom whose how why when "
                  "where do does did can could would should will and or that this these those".split())


def _overlap(a: str, b: str) -> float:
    """Share of the content words of the shorter text that the other has a form of (0 to 1): "dam"
    and "damming", "change" and "changes" count as one word (one is a prefix of the other, or they
    share their first five letters)."""
    wa, wb = ([w for w in re.findall(r"[a-z0-9]+", t.lower()) if w not in _STOP] for t in (a, b))
    if len(wa) > len(wb):
        wa, wb = wb, wa

    def same(x: str, y: str) -> bool:
        short, long_ = sorted((x, y), key=len)
        if len(short) < 3:
            return x == y
        return long_.startswith(short) or (len(short) >= 5 and x[:5] == y[:5])

    return sum(any(same(x, y) for y in wb) for x in wa) / max(1, len(wa))


def _token_spans(completion: Completion) -> list[tuple[int, int, float]]:
    spans, pos = [], 0
    for t in completion.logprobs or []:
        spans.append((pos, pos + len(t.token), t.logprob))
        pos += len(t.token)
    return spans


def _mean_in(spans: list[tuple[int, int, float]], start: int, end: int) -> float | None:
    values = [lp for s, e, lp in spans if s < end and e > start]
    return sum(values) / len(values) if values else None


_KEY = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*:\s*\[""")


def _decode_key(quoted: str) -> str | None:
    """A JSON key as :func:`parse_tree` sees it (escapes decoded, stripped), single quotes allowed."""
    if quoted.startswith("'"):
        quoted = '"' + quoted[1:-1].replace('\\\'', "'").replace('"', '\\"') + '"'
    try:
        return str(json.loads(quoted)).strip()
    except ValueError:
        return None


def _closing_bracket(text: str, open_at: int) -> int:
    """The index of the ``]`` that closes the list opened at ``open_at`` (quotes respected), or -1."""
    depth, quote, i = 0, "", open_at
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def list_confidences(completion: Completion) -> dict[str, float]:
    """Mean token logprob of each key's child list in a decomposition, keyed as :func:`parse_tree`
    keys its nodes. Lists whose tokens carry no logprob are left out (their confidence is unknown)."""
    text, spans, out = completion.text, _token_spans(completion), {}
    for m in _KEY.finditer(text):
        key = _decode_key(m.group(1))
        close = _closing_bracket(text, m.end() - 1)
        if key is None or close < 0 or key in out:
            continue
        value = _mean_in(spans, m.end() - 1, close + 1)
        if value is not None:
            out[key] = value
    return out


def final_answer(completion: Completion) -> str | None:
    """The answer after the last "So the answer is:" marker; None when absent, cut off or "Unknown"."""
    markers = list(_MARKER.finditer(completion.text))
    if not markers or completion.truncated:
        return None
    answer = completion.text[markers[-1].end() :].strip().split("\n")[0].strip().rstrip(".").strip()
    if not answer or answer.lower().startswith("unknown"):
        return None
    return answer


def answer_confidence(completion: Completion) -> tuple[str | None, float]:
    """The answer after the last marker and the mean logprob of the reasoning before it.

    Unknown, a missing marker or a cut-off generation score :data:`UNSCORED`; a reply with no
    reasoning before its answer (a bare guess: the reference scores it lowest) scores
    :data:`BARE`, below every reasoned answer and above no answer. A reply
    without token logprobs cannot be scored: :class:`CapabilityError`, never a silent 0 (which
    would read as certainty).
    """
    answer = final_answer(completion)
    if answer is None:
        return None, UNSCORED
    if not completion.logprobs:
        raise CapabilityError(
            f"{completion.model or 'the model'} returned no token logprobs, which ProbTree's confidence needs; "
            "use ProbTree(confidence='vote') to score by vote share instead")
    marker = list(_MARKER.finditer(completion.text))[-1]
    reasoning = _mean_in(_token_spans(completion), 0, marker.start())
    if not completion.text[: marker.start()].strip() or reasoning is None:
        return answer, BARE
    return answer, float(reasoning)


def _substitute(question: str, sibling_answers: list[str | None]) -> str:
    def repl(m: re.Match[str]) -> str:
        i = int(m.group(1)) - 1
        if 0 <= i < len(sibling_answers):
            return sibling_answers[i] or "unknown"
        return m.group(0)

    return re.sub(r"<(\d+)>", repl, question)


@register("probtree")
@settings
class ProbTree(Strategy):
    """Probabilistic tree-of-thought with retrieval (see the module docstring).

    - ``k`` passages per open-book answer, fewer if they do not fit ``max_context_tokens``.
    - ``max_depth`` / ``max_children`` bound the tree (and so the cost).
    - ``confidence="logprob"`` needs token logprobs and refuses before spending
      without them; ``confidence="vote"`` instead samples ``votes`` answers per
      source and scores the winner by the log of its vote share. Both modes score on
      one scale, log-probability (0 is certain), and ``result.confidence`` is exp of the
      root's score.
    """

    k: int = param(default=3, ge=1)
    max_depth: int = param(default=2, ge=0)
    max_children: int = param(default=4, ge=1)
    max_tokens: int = 160
    max_context_tokens: int = 1536
    confidence: Literal["logprob", "vote"] = "logprob"
    votes: int = param(default=3, ge=1)
    prompts: Literal["zero_shot", "few_shot"] = "zero_shot"
    sibling_context: bool = False

    @property
    def prompt_set(self) -> Prompts:
        """The prompts ``prompts`` names."""
        return Prompts.few_shot() if self.prompts == "few_shot" else ZERO_SHOT

    @classmethod
    def paper(cls, **overrides: Any) -> ProbTree:
        """The paper's setting (Cao et al. 2023): few-shot prompts for decomposition, closed-book,
        open-book and aggregation (``reasoners/data/fewshot/probtree.json``), k = 5 passages per
        open-book answer retrieved with the answers of the earlier siblings in the query, and 256
        tokens per answer. Calls: one decomposition, then 2 per leaf and 3 per inner node."""
        settings: dict[str, Any] = {"prompts": "few_shot", "k": 5, "sibling_context": True, "max_tokens": 256}
        return cls(**{**settings, **overrides})

    async def _ask(self, ctx: Context, prompt: str, source: str) -> Candidate:
        """One source's answer with its confidence."""
        if self.confidence == "vote":
            outs = await ctx.generate(prompt, n=self.votes, temperature=0.7, max_tokens=self.max_tokens)
            answers = [final_answer(c) for c in outs]
            counts = Counter(normalize(a, "text") for a in answers if a)
            if not counts:
                return Candidate(outs[0].text, None, score=UNSCORED, source=source)
            key, votes = counts.most_common(1)[0]
            winner = next(a for a in answers if a and normalize(a, "text") == key)
            # log of the vote share: the same scale as the logprob confidences it is averaged with
            return Candidate(outs[0].text, winner, score=math.log(votes / len(outs)), source=source)
        [c] = await ctx.generate(prompt, logprobs=True, temperature=0.0, max_tokens=self.max_tokens)
        answer, conf = answer_confidence(c)
        return Candidate(c.text, answer, mean_logprob=c.mean_logprob, score=conf, source=source)

    async def _answer(self, ctx: Context, graph: nx.DiGraph, node: str, question: str,
                      siblings: list[Node] | None = None) -> Node:
        children = list(graph.successors(node))
        child_nodes: list[Node] = []
        for child in children:  # in order: later siblings may refer to earlier answers
            q = _substitute(graph.nodes[child]["question"], [c.answer for c in child_nodes])
            child_nodes.append(await self._answer(ctx, graph, child, q, list(child_nodes)))
        result = Node(node, question, children, graph.nodes[node].get("decomposition_confidence"))
        prompts = self.prompt_set
        try:
            query = question
            if self.sibling_context and siblings:  # the reference retrieves with what the siblings found
                query = " ".join([*(f"{c.question} {c.answer}" for c in siblings if c.answer), question])
            passages, _ = await retrieve_passages(ctx, query, self.k, self.max_context_tokens)
            asks = [self._ask(ctx, prompts.closed_book.format(question=question), "closed_book")]
            if passages:
                asks.append(self._ask(ctx, prompts.open_book.format(passages=passages, question=question),
                                      "open_book"))
            # Each source is a branch: one whose call fails after its retries is a failed sample.
            sources = ["closed_book", "open_book"][: len(asks)]
            answers = await asyncio.gather(*(ctx.attempt(a, f"node {node} {s}") for a, s in zip(asks, sources)))
            result.candidates.extend(a for a in answers if a is not None)
            if child_nodes:
                pairs = "\n".join(f"Q: {c.question}\nA: {c.answer or 'unknown'}" for c in child_nodes)
                aggregate = await ctx.attempt(self._ask(ctx, prompts.aggregate.format(pairs=pairs, question=question),
                                                        "child_aggregation"), f"node {node} child_aggregation")
                if aggregate is not None and aggregate.score is not None and aggregate.score > BARE:
                    # The paper's average of the three; a decomposition list of unknown confidence is left out.
                    known = [] if result.decomposition_confidence is None else [result.decomposition_confidence]
                    parts = [aggregate.score, *known, *[c.confidence for c in child_nodes]]
                    aggregate.score = sum(parts) / len(parts)
                if aggregate is not None:
                    result.candidates.append(aggregate)
        except BudgetExhausted:
            pass  # anytime: keep what this node got
        best = max(result.candidates, key=lambda c: c.score if c.score is not None else UNSCORED, default=None)
        if best is not None and best.answer is not None:
            result.answer, result.confidence = best.answer, float(best.score or 0.0)
        graph.nodes[node].update(answer=result.answer, confidence=result.confidence, question_asked=question,
                                 candidates=[{"source": c.source, "answer": c.answer, "score": c.score}
                                             for c in result.candidates])
        return result

    async def solve(self, problem: Problem, ctx: Context) -> Result:
        if self.confidence == "logprob" and ctx.llm.capabilities.logprobs is False:
            raise CapabilityError(
                f"ProbTree scores answers by token logprobs, which {ctx.llm.model} does not return; "
                "use ProbTree(confidence='vote') to score by vote share instead"
            )
        failed_before = len(ctx.failures)
        with span("probtree.decompose", self.name) as s:
            out = await ctx.attempt(ctx.generate(
                self.prompt_set.decompose.format(question=problem.question), logprobs=self.confidence == "logprob",
                temperature=0.0, max_tokens=256,
            ), "decomposition")
            # A failed decomposition leaves a one-node tree, as malformed output does.
            decomposition = out[0] if out else Completion(text="")
            if (self.confidence == "logprob" and ctx.llm.capabilities.logprobs is None
                    and decomposition.text.strip() and not decomposition.logprobs):
                # The first reply is the probe: a backend that says nothing of logprobs and sends
                # none would otherwise score every answer alike and let closed-book always win.
                raise CapabilityError(
                    f"ProbTree scores answers by token logprobs, and {ctx.llm.model} returned none when asked; "
                    "use ProbTree(confidence='vote') to score by vote share instead")
            graph, note = parse_tree(problem.question, decomposition.text,
                                     max_depth=self.max_depth, max_children=self.max_children)
            confidences = list_confidences(decomposition)
            for n in graph.nodes:
                key = graph.nodes[n]["key"]
                graph.nodes[n]["decomposition_confidence"] = None if key is None else confidences.get(key)
            if s is not None:
                s.attrs.update(parse=note, nodes=graph.number_of_nodes())
        root = await self._answer(ctx, graph, "0", problem.question)
        ctx.raise_if_nothing_succeeded(bool(root.candidates), failed_before)
        tree = [{"id": n, **{k: v for k, v in graph.nodes[n].items()}} for n in nx.dfs_preorder_nodes(graph, "0")]
        with span("probtree.tree", self.name, tree=tree):
            pass
        ranked = sorted(root.candidates, key=lambda c: -(c.score if c.score is not None else UNSCORED))
        confidence = math.exp(root.confidence) if root.answer else 0.0
        return Result(root.answer, confidence=confidence, candidates=ranked, exhausted=root.answer is None and
                      ctx.budget.exhausted, strategy=self.name, metadata={"tree": tree, "parse": note})
