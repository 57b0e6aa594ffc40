"""Few-shot demonstrations: the :class:`Demo` record, the one validated loader, and the audit.

A demo put in a prompt steers every answer after it, so a demo file is input to
check, not to trust: :func:`load_demos` validates the types and fields of every
entry and records where each demo came from (the file and entry, and a content
hash), so a run's demos can be traced. :func:`audit_demo` re-checks a demo
without a model: that each written arithmetic step holds, that the steps reach
the stated answer, and that each step builds on a quantity of the question or of
an earlier step (an inserted step such as BadChain's "x 2.1" builds on nothing).
See ``docs/security.md`` for what it does and does not catch.

>>> demos = load_demos("demos.json")  # doctest: +SKIP
>>> demos[0].source, demos[0].digest  # doctest: +SKIP
('demos.json#0', '3f2a...')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..answers.arithmetic import close, numbers_in, written_steps
from ..core.errors import ConfigError

__all__ = ["Demo", "DemoAudit", "audit_demo", "load_demos", "demos_from"]

_FIELDS = ("question", "rationale", "answer")


@dataclass(frozen=True)
class Demo:
    """A worked example for few-shot prompting: the rationale ends with the answer.

    ``source`` says where it came from (``"file.json#3"``, ``"autocot:model"``, or empty when
    made in code); it takes no part in equality.
    """

    question: str
    rationale: str
    answer: str
    source: str = field(default="", compare=False)

    def completion(self) -> str:
        return f"{self.rationale.strip()} The answer is {self.answer}."

    @property
    def digest(self) -> str:
        """sha256 of the demo's content (question, rationale, answer): its identity in an audit."""
        blob = json.dumps([self.question, self.rationale, self.answer], ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, str]:
        return {"question": self.question, "rationale": self.rationale, "answer": self.answer}


def _demo(entry: Any, where: str) -> Demo:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: a demo is an object with {', '.join(_FIELDS)}; got {type(entry).__name__}")
    missing = [f for f in _FIELDS if f not in entry]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    values = {}
    for name in _FIELDS:
        value = entry[name]
        if name == "answer" and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {name} must be a non-empty string; got {value!r}")
        values[name] = value
    return Demo(values["question"], values["rationale"], values["answer"], source=where)


def load_demos(path: str | Path) -> list[Demo]:
    """The demos in a JSON file (a list of ``{question, rationale, answer}``), each checked and
    marked with its source. Any fault in the file is a :class:`ConfigError` naming the entry."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read demos from {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read demos from {path}: not UTF-8 text") from None
    except ValueError as e:
        raise ConfigError(f"cannot read demos from {path}: not JSON ({e})") from None
    if not isinstance(data, list):
        raise ConfigError(f"demos file {path} must hold a JSON list of demos; got {type(data).__name__}")
    return [_demo(entry, f"{path}#{i}") for i, entry in enumerate(data)]


class Demos(tuple[Demo, ...]):
    """A strategy's demos, with the file they were read from (``path``; None when given as
    objects), so that a spec string writes the file back rather than the demos."""

    path: str | None = None


def demos_from(value: Sequence[Demo] | str | Path | None, *, owner: str) -> Demos:
    """Demos given to a strategy as objects or as a file path (spec strings pass paths)."""
    if value is None:
        return Demos()
    if isinstance(value, Demos):
        return value
    if isinstance(value, (str, Path)):
        loaded = Demos(load_demos(value))
        loaded.path = str(value)
        return loaded
    demos = Demos(value)
    bad = next((d for d in demos if not isinstance(d, Demo)), None)
    if bad is not None:
        raise ConfigError(f"{owner} demos must be Demo objects or a demos file path; got {type(bad).__name__}")
    return demos


# Numbers a step may use without the question stating them: unit conversions, halves and doubles.
COMMON_CONSTANTS = frozenset(Fraction(x) for x in ("0", "0.5", "1", "2", "3", "4", "7", "10", "12", "24", "30", "52",
                                                   "60", "100", "365", "1000"))


@dataclass
class DemoAudit:
    """What the audit found in one demo; ``ok`` when nothing."""

    demo: Demo
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.demo.source, "digest": self.demo.digest, "question": self.demo.question[:120],
                "ok": self.ok, "findings": list(self.findings)}


def _fmt(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def audit_demo(demo: Demo, *, kind: str = "number") -> DemoAudit:
    """Re-check ``demo`` without a model (arithmetic demos; other kinds pass unchecked).

    Flags a written step whose result is wrong, a step that builds on no quantity of
    the question or of an earlier step, a number that comes from neither (beyond
    :data:`COMMON_CONSTANTS`), and a rationale whose steps do not end at its answer.
    """
    audit = DemoAudit(demo)
    if kind != "number":
        return audit
    steps = written_steps(demo.rationale)
    known = numbers_in(demo.question)
    derived = set(known)
    for s in steps:
        shown = f"'{s.expression} = {_fmt(s.claimed)}'"
        if not s.holds:
            audit.findings.append(f"step {shown} is wrong: it is {_fmt(s.value)}")
        operands = set(s.operands)
        if not operands & derived:
            audit.findings.append(f"step {shown} uses no quantity from the question or an earlier step")
        else:
            strangers = sorted(o for o in operands if o not in derived and o not in COMMON_CONSTANTS)
            if strangers:
                audit.findings.append(f"step {shown} uses {', '.join(map(_fmt, strangers))}, which neither the "
                                      "question nor an earlier step gives")
        derived |= {s.claimed, s.value}
    try:
        answer = Fraction(demo.answer.replace(",", "").strip())
    except (ValueError, ZeroDivisionError):
        audit.findings.append(f"the answer {demo.answer!r} is not a number")
        return audit
    if steps and not close(steps[-1].claimed, answer):
        audit.findings.append(f"the last step gives {_fmt(steps[-1].claimed)}, not the stated answer {demo.answer}")
    return audit
