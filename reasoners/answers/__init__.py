"""Answer extraction, normalisation and voting.

Extraction is by answer kind:

- ``number``: the last "The answer is N" (or "Answer: N"), else the last ``\\boxed{N}``,
  else GSM8K's ``#### N``, else the last number in the text.
- ``choice``: a letter A.. after "answer is"/"Answer:", else the last ``(X)``, else a choice's text.
- ``text``: what follows the last "The answer is", up to the end of that sentence, else the last line.
- ``code``: the last fenced code block (preferring ``python``), else the text if it looks like code.

Normalisation makes equal answers compare equal: ``1,000`` = ``1000``, ``42.0`` = ``42``,
``$5`` = ``5``, ``50%`` = ``50``, ``\\frac{3}{4}`` = ``0.75``, trailing dots dropped.
Votes break ties deterministically: larger total weight, then more votes, then
the answer seen first.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ..core.problem import AnswerKind

__all__ = [
    "token_f1",
    "boxed_contents",
    "extract_answer",
    "extract_number",
    "extract_choice",
    "extract_text",
    "extract_code",
    "normalize",
    "normalize_number",
    "same_answer",
    "Vote",
    "vote",
    "infer_kind",
]

_NUM = r"-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?|-?\.\d+"
_NUM_RE = re.compile(_NUM)
_MARKER_RE = re.compile(r"(?:the\s+)?(?:final\s+)?answer\s*(?:is|:|=)\s*:?\s*", re.I)
_HASHES_RE = re.compile(r"####\s*(" + _NUM + ")")
_FRAC_RE = re.compile(r"^\\[dt]?frac\{(-?[\d.]+)\}\{(-?[\d.]+)\}$")
_SLASH_RE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)$")


def boxed_contents(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}`` (balanced braces), in order."""
    out = []
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[m.end() : i - 1])
    return out


def normalize_number(raw: str) -> str | None:
    """Canonical string for a number written in ``raw``, or None if there is none.

    >>> normalize_number("$1,000.00")
    '1000'
    >>> normalize_number("\\\\frac{3}{4}")
    '0.75'
    """
    s = raw.strip().strip("$ ").replace("\\$", "").replace("\\!", "").replace("{,}", "")
    s = re.sub(r"\\(?:text|mathrm|textbf)\{[^}]*\}", "", s).strip()
    s = s.rstrip(".").strip()
    frac = _FRAC_RE.match(s) or _SLASH_RE.match(s)
    if frac:
        try:
            value = Decimal(frac.group(1)) / Decimal(frac.group(2))
        except (InvalidOperation, ZeroDivisionError):
            return None
        return _fmt(value)
    m = _NUM_RE.search(s)
    if not m:
        return None
    token = m.group(0).replace("$", "").replace(",", "").replace("%", "").replace(" ", "")
    try:
        return _fmt(Decimal(token))
    except InvalidOperation:
        return None


def _fmt(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    text = format(value.normalize(), "f")
    if len(text.split(".")[1]) > 6:
        text = format(round(value, 6).normalize(), "f")
    return text


def extract_number(text: str) -> str | None:
    """The final numeric answer in ``text``, normalised, or None."""
    markers = list(_MARKER_RE.finditer(text))
    for m in reversed(markers):
        tail = text[m.end() : m.end() + 80]
        boxed = boxed_contents(tail)
        if boxed and (n := normalize_number(boxed[0])) is not None:
            return n
        first = re.match(r"\s*(?:\\\(|\$\$?|\*\*)?\s*(\\[dt]?frac\{[^}]*\}\{[^}]*\}|-?\d+\s*/\s*\d+(?![\d]|[,.]\d)|" + _NUM + ")", tail)
        if first and (n := normalize_number(first.group(1))) is not None:
            return n
    for b in reversed(boxed_contents(text)):
        if (n := normalize_number(b)) is not None:
            return n
    hashes = _HASHES_RE.findall(text)
    if hashes:
        return normalize_number(hashes[-1])
    numbers = _NUM_RE.findall(text)
    for raw in reversed(numbers):
        if (n := normalize_number(raw)) is not None:
            return n
    return None


def extract_choice(text: str, choices: Sequence[str] = ()) -> str | None:
    """The chosen letter (``"A"``...), or None. Letters beyond ``len(choices)`` are ignored when choices are given."""
    letters = string.ascii_uppercase[: len(choices)] if choices else "ABCDE"
    cls = f"[{letters}]"
    patterns = [
        rf"answer\s*(?:is|:)\s*:?\s*(?:option\s*)?\(?({cls})\)?(?![A-Za-z])",
        rf"\\boxed\{{\(?({cls})\)?\}}",
        rf"\(({cls})\)",
        rf"(?:^|\n)\s*({cls})[.)](?:\s|$)",
    ]
    for pat in patterns:
        found = re.findall(pat, text, re.I if pat is patterns[0] else 0)
        if found:
            return found[-1].upper()
    if choices:
        low = text.lower()
        best = max(range(len(choices)), key=lambda i: low.rfind(choices[i].lower()))
        if low.rfind(choices[best].lower()) >= 0:
            return letters[best]
    return None


def extract_text(text: str) -> str | None:
    """A short free-text answer: after the last "The answer is", else the last non-empty line."""
    markers = list(_MARKER_RE.finditer(text))
    if markers:
        tail = text[markers[-1].end() :].strip()
        sentence = re.split(r"(?<=[^\d\s][.!?])\s|\n", tail, maxsplit=1)[0]
        return sentence.strip().rstrip(".").strip() or None
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].rstrip(".") if lines else None


_DEFINES = re.compile(r"^(?:async\s+)?(?:def|class)\s+(\w+)", re.M)


def extract_code(text: str) -> str | None:
    """The program in a reply: its last fenced block that defines a function or class (``python``
    blocks first), since a reply often ends with a block that only calls or tests what an earlier
    one defined; a block defining only ``test_...`` functions counts after any other. Without a
    defining block, the last block; unfenced code is returned as is."""
    blocks = re.findall(r"```([\w+-]*)[ \t]*\n(.*?)```", text, re.S)
    if blocks:
        code = [c for lang, c in blocks if lang.lower() in ("python", "py", "python3")] or [c for _, c in blocks]
        named = [(c, _DEFINES.findall(c)) for c in code]
        defining = [c for c, names in named if names]
        solutions = [c for c, names in named if any(not name.lower().startswith("test") for name in names)]
        return (solutions or defining or code)[-1].strip("\n")
    if re.search(r"^\s*(def|class|import|from)\s", text, re.M):
        return text.strip("\n")
    return None


_NUMERIC_QUESTION = re.compile(
    r"\d|\bhow (?:many|much|old|long|far|fast|often|tall|heavy)\b|\b(?:calculate|compute|sum|product|"
    r"difference|total|average|percent(?:age)?|ratio|solve for)\b", re.I)
_CODE_QUESTION = re.compile(r"\b(?:write|implement|complete) (?:a |an |the )?(?:python )?(?:function|program|"
                            r"class|script)\b|^\s*def \w+\(", re.I | re.M)


def infer_kind(question: str, choices: Sequence[str] = ()) -> AnswerKind:
    """The answer kind a question most likely wants, for callers that name none.

    Choices given: ``choice``; asked for a function or program: ``code``; a number in the
    question, or "how many/much/old...", "calculate", "total", ...: ``number``; else ``text``.

    >>> infer_kind("What is 17 + 25?"), infer_kind("What is the capital of France?")
    ('number', 'text')
    """
    if choices:
        return "choice"
    if _CODE_QUESTION.search(question):
        return "code"
    return "number" if _NUMERIC_QUESTION.search(question) else "text"


def extract_answer(text: str, kind: AnswerKind = "number", choices: Sequence[str] = ()) -> str | None:
    """Extract the answer of the given kind from a model's output."""
    if kind == "number":
        return extract_number(text)
    if kind == "choice":
        return extract_choice(text, choices)
    if kind == "code":
        return extract_code(text)
    return extract_text(text)


def normalize(answer: str | None, kind: AnswerKind = "number") -> str | None:
    """The key two answers share when they mean the same thing."""
    if answer is None:
        return None
    if kind == "number":
        return normalize_number(answer)
    if kind == "choice":
        return answer.strip().strip("().").upper() or None
    if kind == "code":
        return "\n".join(line.rstrip() for line in answer.strip().splitlines())
    low = answer.lower()
    low = "".join(ch for ch in low if ch not in string.punctuation)
    low = re.sub(r"\b(a|an|the)\b", " ", low)
    return " ".join(low.split()) or None


def same_answer(a: str | None, b: str | None, kind: AnswerKind = "number") -> bool:
    na, nb = normalize(a, kind), normalize(b, kind)
    return na is not None and na == nb


def token_f1(prediction: str | None, gold: str | None) -> float:
    """SQuAD-style token F1 of two free-text answers (lowercased, no punctuation or articles)."""
    pred = (normalize(prediction, "text") or "").split()
    ref = (normalize(gold, "text") or "").split()
    common = sum(min(pred.count(w), ref.count(w)) for w in set(pred) & set(ref))
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


@dataclass
class Vote:
    """The outcome of a vote: the winner, its share of the total weight, and every tally."""

    winner: str | None
    share: float
    tallies: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def vote(
    answers: Sequence[str | None],
    weights: Sequence[float] | None = None,
    kind: AnswerKind = "number",
) -> Vote:
    """Majority (or weighted, when ``weights`` are given) vote over normalised answers.

    None answers abstain. Ties go to the larger weight, then the larger count, then
    the answer that appeared first, so the result never depends on dict order.
    """
    if weights is not None and len(weights) != len(answers):
        raise ValueError("vote: answers and weights differ in length")
    tallies: dict[str, float] = {}
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, ans in enumerate(answers):
        key = normalize(ans, kind)
        if key is None:
            continue
        w = 1.0 if weights is None else float(weights[i])
        tallies[key] = tallies.get(key, 0.0) + w
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, i)
    if not tallies:
        return Vote(None, 0.0)
    winner = min(tallies, key=lambda k: (-tallies[k], -counts[k], first[k]))
    total = sum(tallies.values())
    share = tallies[winner] / total if total > 0 else counts[winner] / sum(counts.values())
    return Vote(winner, share, tallies, counts)
