"""Reasoning behaviours in rationales: verification, backtracking, subgoal setting, backward chaining.

Gandhi et al. (2025, "Cognitive Behaviors that Enable Self-Improving Reasoners")
find that these four behaviours in a model's reasoning predict whether it gains
from more test-time compute. This module counts them in any rationale, a
:class:`~reasoners.core.problem.Result`'s candidates or a trace's model replies, and
returns the spans of text that show each occurrence. The behaviours, in our words:

- ``verification``: the text checks a result it reached (recomputes it, substitutes
  it back, compares it with a condition of the problem);
- ``backtracking``: it finds that an attempt fails and abandons it for another;
- ``subgoal_setting``: it splits the problem into intermediate goals before or
  while reaching them (numbered steps, "first we need ...");
- ``backward_chaining``: it starts from what is asked and reasons to what that
  requires ("to find X we need Y"; in Countdown, "to reach 24 we need 4 * 6").

Two classifiers share the :class:`Classifier` interface:

- :class:`LexicalClassifier`: patterns, no model, deterministic, the default
  (the patterns are listed in ``docs/behaviors.md``);
- :class:`LLMClassifier`: one prompt per behaviour asking any :class:`LLM` to
  count the occurrences and quote them, charged to the caller's budget.

Example::

    >>> LexicalClassifier().classify("12 * 3 = 36. Let me check: 36 / 3 = 12. Correct.").counts["verification"]
    1
"""

from __future__ import annotations

import asyncio
import bisect
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.budget import Budget, Meter, meter_for
from ..core.errors import BudgetExhausted, ConfigError, LLMError
from ..core.problem import Result
from ..core.sync import run_sync

if TYPE_CHECKING:
    from ..llm.client import LLM

__all__ = [
    "BEHAVIORS", "DEFINITIONS", "Evidence", "Behaviors", "Classifier", "LexicalClassifier", "LLMClassifier",
    "rationales", "afind_behaviors", "find_behaviors", "classifier_named",
]

BEHAVIORS = ("verification", "backtracking", "subgoal_setting", "backward_chaining")

DEFINITIONS = {
    "verification": (
        "Verification: the reasoning checks a result it has already reached. It recomputes a value a second "
        "way, substitutes an answer back into the problem's conditions, or compares a result with what the "
        "problem requires, and says whether it holds (for example 'Let me check: 36 / 3 = 12, which matches'). "
        "Computing a value for the first time is not verification, and neither is the word 'check' in another "
        "sense (a bank check, checking a bag)."),
    "backtracking": (
        "Backtracking: the reasoning notices that an approach or a value is wrong or does not work, abandons it "
        "and tries something else (for example 'That gives 30, not 24. Let's try another combination' or "
        "'Wait, I made a mistake; the price was per dozen'). Simply continuing to the next step is not "
        "backtracking."),
    "subgoal_setting": (
        "Subgoal setting: the reasoning breaks the problem into smaller intermediate goals and names them, for "
        "example 'Step 1: find the cost of the apples. Step 2: find the total', or 'First, we need to find how "
        "many hours she works'. Stating only the final question is not subgoal setting."),
    "backward_chaining": (
        "Backward chaining: the reasoning starts from the goal and works back to what the goal requires, for "
        "example 'To find the total cost, we first need the number of tickets' or 'To reach 24 we need 4 * 6, "
        "so we must make 6 from the remaining numbers'. Restating the question ('We need to find how many "
        "apples John has') is not backward chaining, and neither is working forward from the given facts."),
}
"""The four behaviours in our words: the LLM classifier's prompts and the labelling guide's core."""


@dataclass
class Evidence:
    """One occurrence of a behaviour: its text and where it sits in the rationale (``start`` is -1
    when a quote given by an LLM classifier is not found verbatim)."""

    behavior: str
    text: str
    start: int = -1
    end: int = -1


@dataclass
class Behaviors:
    """Counts of each behaviour in one rationale and the evidence for them."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BEHAVIORS, 0))
    evidence: list[Evidence] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    """Behaviours the classifier could not judge (an LLM call failed or its reply did not parse)."""

    def shows(self, behavior: str) -> bool:
        return self.counts.get(behavior, 0) > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Classifier(ABC):
    """Counts the four behaviours in a rationale."""

    name = "classifier"

    @abstractmethod
    async def aclassify(self, text: str, *, budget: Budget | Meter | None = None) -> Behaviors:
        """The behaviours in ``text``; a budget limits what a model-based classifier spends."""

    def classify(self, text: str, *, budget: Budget | Meter | None = None) -> Behaviors:
        return run_sync(self.aclassify(text, budget=budget), async_name="aclassify")


# --- lexical ------------------------------------------------------------------------------------

_I = re.IGNORECASE | re.MULTILINE
_NUM = r"-?\$?\d[\d,]*(?:\.\d+)?"
_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "verification": [
        # a check announced as such ("check" as a verb about the work, never a bank check or a checkbox)
        re.compile(r"\b(?:let(?:'s| me| us)|we can|we should|i(?:'ll| will)|to|now)\s+(?:double[- ])?"
                   r"(?:check|verify|confirm|validate)\b", _I),
        re.compile(r"\b(?:double[- ]check(?:ing)?|sanity check|verif(?:y|ied|ying|ication)|checking(?: our| the| my)?"
                   r" (?:work|answer|result|solution|calculation)s?)\b", _I),
        re.compile(r"^\W*(?:check|verification|verify)\s*:", _I),
        re.compile(r"\b(?:plug(?:ging)?|substitut(?:e|ing)|put(?:ting)?)\b[^.\n]{0,40}\bback\b", _I),
        # a result compared with a requirement and found to hold
        re.compile(r"\b(?:which|this|that|it)\s+(?:matches|is consistent with|satisfies|agrees with|equals the target"
                   r"|confirms)\b", _I),
        # a result held against a condition of the problem and found to break it
        re.compile(r"\b(?:this|that|it|the (?:result|answer|number|value))\s+(?:is not possible|is impossible|cannot be "
                   r"(?:negative|right|correct)|should not be negative|does not make sense)\b", _I),
        re.compile(r"\bcannot (?:have|be) a negative\b|\bmust be (?:a )?(?:non-negative|positive|whole) (?:number|integer)\b", _I),
        re.compile(r"[=]\s*" + _NUM + r"\s*(?:\u2713|\u2714|\u2705|\(correct\)|, correct\b|, which is correct\b)", _I),
    ],
    "backtracking": [
        re.compile(r"\b(?:that|this|it|which)(?:'s| is| was)\s+(?:not (?:right|correct|possible|valid)|wrong|incorrect"
                   r"|a mistake|too (?:big|small|high|low|large|much|many))\b", _I),
        re.compile(r"\b(?:i|we) (?:made|have made) (?:a |an )?(?:mistake|error)\b", _I),
        re.compile(r"\b(?:doesn't|does not|didn't|did not|won't|will not) (?:work|reach|give (?:us )?(?:the target|"
                   + _NUM + r"))\b", _I),
        re.compile(r"\b(?:let(?:'s| me| us)|we(?:'ll| will| can)?|i(?:'ll| will)?)\s+(?:try|start) (?:again|over|another"
                   r"|a different|something else)\b", _I),
        re.compile(r"\b(?:let(?:'s| me| us)|we need to|i need to)\s+(?:re-?(?:think|consider|calculate|evaluate|do|"
                   r"examine)|correct (?:this|that|the|my|our))\b", _I),
        re.compile(r"(?:^|[.!?]\s+)(?:wait|oops|hmm|no)\b[,.!]", _I),
        re.compile(r"(?:^|[.!?]\s+)(?:actually|correction)\s*[,:]", _I),
        re.compile(r"\binstead\b[,:]?\s+(?:let(?:'s| me| us)|we|i)\s+(?:try|use)\b", _I),
    ],
    "subgoal_setting": [
        re.compile(r"^\W*(?:step|part|stage)\s+\d+\b", _I),
        re.compile(r"^\s*(?:\d+[.)]|-|\*)\s*(?:\*\*)?\s*(?:first|calculate|find|determine|compute|figure out|"
                   r"identify|work out|convert|add|subtract|multiply|divide|sum)\b", _I),
        re.compile(r"\b(?:first|firstly|to start|to begin),?\s+(?:we|i|let(?:'s| us))\s+(?:need to|must|have to|will|"
                   r"should|can)?\s*(?:find|calculate|determine|compute|figure out|work out)\b", _I),
        re.compile(r"\b(?:break|split)\w*\s+(?:this|it|the problem|the task)\s+(?:down|into)\b", _I),
        re.compile(r"\b(?:we|i|you|let(?:'s| us))\s+(?:can |will |should )?start by \w+ing\b", _I),
        re.compile(r"\b(?:sub-?goals?|sub-?problems?|intermediate (?:goal|step)s?)\b", _I),
        re.compile(r"\b(?:next|then|finally),?\s+(?:we|i|let(?:'s| us))\s+(?:need to|must|have to|will)\s+"
                   r"(?:find|calculate|determine|compute|figure out|work out)\b", _I),
    ],
    "backward_chaining": [
        re.compile(r"\b(?:to|in order to)\s+(?:find|get|reach|make|obtain|determine|calculate|know|answer)\b[^.\n]{1,80}?,"
                   r"\s*(?:we|i)\s+(?:first\s+)?(?:need|must|have|require)\s+(?:to\s+(?:know|find|determine|calculate|"
                   r"figure out|work out|get|make|compute)\b|the\b)", _I),
        re.compile(r"\bwork(?:ing|s)?\s+backwards?\b|\bbackwards? from\b|\bstart(?:ing)? from the (?:target|goal|answer|end)\b",
                   _I),
        re.compile(r"\b(?:which|this|that|so)\s+means\s+(?:we|i)\s+(?:need|must|have)\s+to\s+(?:make|get|reach|find)\b", _I),
        re.compile(r"\bwe need (?:to (?:make|get|reach) )?" + _NUM + r"\s*(?:from|out of|using|with) the (?:remaining|other|rest)\b",
                   _I),
        re.compile(r"\b(?:depends on|requires (?:us to )?(?:know|find)(?:ing)?)\b", _I),
    ],
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
_NUMBERED_LINE = re.compile(r"^\s*(?:\d+[.)]|#+\s*\d+)\s+\S", re.MULTILINE)


class LexicalClassifier(Classifier):
    """Patterns over the text: no model, deterministic, fast (the offline default).

    Each sentence (or line) with a match is one occurrence of that behaviour, its matches joined
    into one evidence span ("Let me check: 12 / 4 = 3, which matches." is one verification). For
    subgoal setting, a numbered list counts only when it has at least two items (one numbered
    line is formatting, not a plan).
    """

    name = "lexical"

    async def aclassify(self, text: str, *, budget: Budget | Meter | None = None) -> Behaviors:
        return self.find(text)

    def find(self, text: str) -> Behaviors:
        out = Behaviors()
        ends = [m.end() for m in _SENTENCE_END.finditer(text)]

        def sentence(at: int) -> int:
            return bisect.bisect_right(ends, at)

        for behavior, patterns in _PATTERNS.items():
            spans = sorted({(m.start(), m.end()) for p in patterns for m in p.finditer(text)})
            if behavior == "subgoal_setting" and len(_NUMBERED_LINE.findall(text)) < 2:
                spans = [s for s in spans if not re.match(r"\s*(?:\d+[.)]|-|\*)", text[s[0]:s[1]])]
            kept: list[tuple[int, int]] = []
            for start, end in spans:
                if kept and (start < kept[-1][1] or sentence(start) == sentence(kept[-1][0])):
                    kept[-1] = (kept[-1][0], max(end, kept[-1][1]))
                else:
                    kept.append((start, end))
            out.counts[behavior] = len(kept)
            for start, end in kept:
                lead = len(text[start:end]) - len(text[start:end].lstrip())
                trail = len(text[start:end]) - len(text[start:end].rstrip())
                out.evidence.append(Evidence(behavior, text[start + lead:end - trail], start + lead, end - trail))
        out.evidence.sort(key=lambda e: e.start)
        return out


# --- LLM ----------------------------------------------------------------------------------------

_PROMPT = """Here is a model's reasoning about a problem:
<<<
{text}
>>>

{definition}

Does the reasoning above show this behaviour? For each sentence of the reasoning that shows it, copy the sentence's first ten words on a line of its own, starting the line with "> ". Copy only from the reasoning between <<< and >>>, never from these instructions. If no sentence shows it, copy nothing. End with one line "Count: N", where N is how many sentences show it (0 if none)."""

_COUNT = re.compile(r"\**\s*count\s*[:=]\s*\**\s*(\d+)\s*\**", re.IGNORECASE)
_QUOTE = re.compile(r"^\s*>\s*(.+?)\s*$", re.MULTILINE)


class LLMClassifier(Classifier):
    """Asks a model, one prompt per behaviour, to quote each occurrence and count them.

    The definitions are :data:`DEFINITIONS`. The model quotes the first ten words of each
    sentence that shows the behaviour (short quotes: about three fit in the default ``max_tokens``,
    so larger counts are cut; raise it for full counts). A
    behaviour's count is the number of distinct quotes found in the rationale (whitespace and case
    aside): a small model often quotes the instructions or invents sentences, and those are kept
    as evidence with ``start`` -1 but not counted. A reply that quotes nothing counts 0. Every call is charged to the ``budget`` given
    to :meth:`aclassify` (or none); a call that fails or does not fit, or a reply with neither a
    quote nor a ``Count: N`` line, leaves that behaviour at 0 with the reason in ``errors``.
    Greedy decoding, so a rerun replays from the model's cache.
    """

    name = "llm"

    def __init__(self, llm: LLM, *, max_tokens: int = 48, max_chars: int = 4000) -> None:
        if max_tokens < 1 or max_chars < 1:
            raise ConfigError("LLMClassifier max_tokens and max_chars must be >= 1")
        self.llm = llm
        self.max_tokens = max_tokens
        self.max_chars = max_chars

    def prompt(self, behavior: str, text: str) -> str:
        return _PROMPT.format(definition=DEFINITIONS[behavior], text=text[: self.max_chars])

    async def aclassify(self, text: str, *, budget: Budget | Meter | None = None) -> Behaviors:
        out = Behaviors()
        meter = meter_for(budget)  # the four questions share it
        replies = await asyncio.gather(*(self._ask(b, text, meter) for b in BEHAVIORS))
        for behavior, reply in zip(BEHAVIORS, replies):
            if isinstance(reply, Exception):
                out.errors[behavior] = f"{type(reply).__name__}: {str(reply).splitlines()[0] if str(reply) else ''}"
                continue
            quotes = [q.strip('"\u201c\u201d ') for q in _QUOTE.findall(reply)]
            quotes = list(dict.fromkeys(q for q in quotes if q and not _COUNT.fullmatch(q)))
            if not quotes and not _COUNT.search(reply):
                out.errors[behavior] = "the reply has neither a quote nor a 'Count: N' line"
                continue
            for q in quotes:
                start, end = _locate(text[: self.max_chars], q)
                out.evidence.append(Evidence(behavior, q, start, end))
            out.counts[behavior] = sum(1 for e in out.evidence if e.behavior == behavior and e.start >= 0)
        return out

    async def _ask(self, behavior: str, text: str, budget: Budget | Meter | None) -> str | Exception:
        try:
            [reply] = await self.llm.agenerate(self.prompt(behavior, text), temperature=0.0,
                                               max_tokens=self.max_tokens, budget=budget)
            return reply.text
        except (LLMError, BudgetExhausted) as e:
            return e


def _locate(text: str, quote: str) -> tuple[int, int]:
    """Where ``quote`` sits in ``text``, any run of whitespace matching any other and case aside;
    (-1, -1) when it is not there (an invented quote, or one from the instructions)."""
    words = quote.split()
    if not words:
        return -1, -1
    m = re.search(r"\s+".join(map(re.escape, words)), text, re.IGNORECASE)
    return (m.start(), m.end()) if m else (-1, -1)


def classifier_named(name: str, llm: LLM | None = None) -> Classifier:
    """``"lexical"`` or ``"llm"`` (which needs ``llm``): the classifiers the CLI offers."""
    if name == "lexical":
        return LexicalClassifier()
    if name == "llm":
        if llm is None:
            raise ConfigError("the llm classifier needs a model (--model)")
        return LLMClassifier(llm)
    raise ConfigError(f"classifier must be 'lexical' or 'llm'; got {name!r}")


# --- where rationales come from -----------------------------------------------------------------

REASONING_MARK = " [reasoning]"
"""Marks the ``where`` of a rationale that is a reasoning model's thinking (not its final text)."""


def rationales(source: str | Result | dict[str, Any] | Iterable[str]) -> list[tuple[str, str]]:
    """(where, text) for each rationale in ``source``: a text, a :class:`Result` (its candidates,
    ``where`` their source), or a trace as a JSON dict (every model reply, ``where`` the path of
    strategy spans above it). A reasoning model's thinking is a rationale of its own, its ``where``
    marked :data:`REASONING_MARK`, beside the final text's."""
    if isinstance(source, str):
        return [("", source)]
    if isinstance(source, Result):
        found: list[tuple[str, str]] = []
        for c in source.candidates:
            if c.reasoning:
                found.append((c.source + REASONING_MARK, c.reasoning))
            if c.text:
                found.append((c.source, c.text))
        return found
    if isinstance(source, dict):
        out: list[tuple[str, str]] = []
        _replies(source, [], out)
        return out
    return [("", t) for t in source]


def _replies(node: dict[str, Any], path: list[str], out: list[tuple[str, str]]) -> None:
    if node.get("kind") == "llm":
        for reply in (node.get("attrs") or {}).get("response") or []:
            if isinstance(reply, dict) and isinstance(reply.get("reasoning"), str) and reply["reasoning"]:
                out.append(("/".join(path) + REASONING_MARK, reply["reasoning"]))
            if isinstance(reply, dict) and reply.get("text"):
                out.append(("/".join(path), reply["text"]))
    here = [*path, node["name"]] if node.get("kind") == "strategy" and node.get("name") else path
    for child in node.get("children") or []:
        _replies(child, here, out)


async def afind_behaviors(source: str | Result | dict[str, Any] | Iterable[str], *,
                          classifier: Classifier | None = None,
                          budget: Budget | Meter | None = None) -> list[tuple[str, Behaviors]]:
    """(where, behaviours) for each rationale of a text, a :class:`Result` or a trace dict (see
    :func:`rationales`), with the lexical classifier unless another is given."""
    classifier = classifier or LexicalClassifier()
    meter = meter_for(budget)  # one count for every rationale
    return [(where, await classifier.aclassify(text, budget=meter)) for where, text in rationales(source)]


def find_behaviors(source: str | Result | dict[str, Any] | Iterable[str], *, classifier: Classifier | None = None,
                   budget: Budget | Meter | None = None) -> list[tuple[str, Behaviors]]:
    """The sync twin of :func:`afind_behaviors`."""
    return run_sync(afind_behaviors(source, classifier=classifier, budget=budget), async_name="afind_behaviors")
