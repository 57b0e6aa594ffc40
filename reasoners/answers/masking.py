"""Finding the numbers in a question and masking one at a time (for FOBAR's backward questions).

Numbers found: integers and decimals (``12``, ``3.5``, ``1,200``), money
(``$5``, ``$1,200.50``: masked as ``$x``), percentages (``20%``: masked as
``x%``), simple fractions (``1/2``) and number words where unambiguous
(``three``, ``twelve``, ``forty``; not ``a dozen``, not hyphenated fractions or
compounds such as ``two-thirds``). Numbers glued to units count (``30mph``).
Skipped unless asked for: numbers inside names or codes (``A1``, ``COVID-19``),
ordinals (``3rd``, ``third``), and date parts (years such as ``2021``, day numbers
next to a month name, ``3/4/2021``, clock times ``3:30``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from . import normalize_number

__all__ = ["Mask", "find_numbers", "mask_question"]

WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "thousand": 1000,
}  # fmt: skip
MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)

_NUMBER = re.compile(
    r"(?P<money>\$\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s?/\s?(?P<den>\d+)(?!\s?/))?"
    r"(?P<pct>\s?%| percent\b)?"
)
_WORD = re.compile(r"\b(" + "|".join(sorted(WORDS, key=len, reverse=True)) + r")\b", re.I)


@dataclass(frozen=True)
class Mask:
    """One number found in a question: where it is, what it says, and its value."""

    start: int
    end: int
    text: str
    value: str  # normalised, comparable with answers.normalize_number

    def apply(self, question: str, symbol: str = "x") -> str:
        """The question with this number replaced by ``symbol`` (keeping ``$`` and ``%``)."""
        raw = question[self.start : self.end]
        prefix = "$" if raw.startswith("$") else ""
        suffix = "%" if raw.rstrip().endswith("%") else (" percent" if raw.endswith(" percent") else "")
        return question[: self.start] + prefix + symbol + suffix + question[self.end :]


def _is_date_or_time(text: str, start: int, end: int, value: str) -> bool:
    before, after = text[max(0, start - 12) : start].lower(), text[end : end + 12].lower()
    if re.search(rf"\b({MONTHS})\.?\s*$", before) or re.match(rf"^\s*(st|nd|rd|th)?\s*(of\s+)?({MONTHS})\b", after):
        return True
    if re.match(r"^\d{4}$", value) and 1900 <= int(value) <= 2100 and not re.match(r"^\s*(dollars|\$|%)", after):
        return True
    if re.match(r"^\s?:\s?\d", after) or re.search(r"\d\s?:\s?$", before):
        return True
    if re.match(r"^/\d", after) or re.search(r"\d/$", before):
        return True
    return False


def find_numbers(question: str, *, include_dates: bool = False, include_words: bool = True) -> list[Mask]:
    """Every maskable number in ``question``, in order of appearance."""
    masks: list[Mask] = []
    taken: list[tuple[int, int]] = []
    for m in _NUMBER.finditer(question):
        start, end = m.start(), m.end()
        if start > 0 and (question[start - 1].isalpha() or question[start - 1] in "-_#"):
            continue  # part of a name or code: A1, COVID-19, #3
        if end < len(question) and question[end : end + 2].lower() in ("st", "nd", "rd", "th"):
            if not question[end + 2 : end + 3].isalpha():
                continue  # ordinal: 1st, 3rd
        raw = m.group("num")
        if m.group("den"):
            value = Fraction(int(raw), int(m.group("den"))) if int(m.group("den")) else None
            norm = None if value is None else normalize_number(str(float(value)))
        else:
            norm = normalize_number(raw)
        if norm is None:
            continue
        if not include_dates and _is_date_or_time(question, start, end, raw.replace(",", "")):
            continue
        masks.append(Mask(start, end, question[start:end], norm))
        taken.append((start, end))
    if include_words:
        for m in _WORD.finditer(question):
            word = m.group(1).lower()
            if word in ("hundred", "thousand"):
                continue  # only as part of a larger phrase; ambiguous alone
            if word == "one" and re.match(r"^\s+(of|another|day|time|by)\b", question[m.end() : m.end() + 10].lower()):
                continue  # "one of", "one another": not a quantity to solve for
            if any(s <= m.start() < e for s, e in taken):
                continue
            if question[m.end() : m.end() + 1] == "-" or question[max(0, m.start() - 1) : m.start()] == "-":
                continue  # "two-thirds", "twenty-five": a fraction or a compound, not one number word
            masks.append(Mask(m.start(), m.end(), m.group(0), str(WORDS[word])))
    return sorted(masks, key=lambda k: k.start)


def mask_question(question: str, mask: Mask, symbol: str = "x") -> str:
    return mask.apply(question, symbol)
