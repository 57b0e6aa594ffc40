"""Few-shot demonstrations: the :class:`Demo` record and the one validated loader every strategy uses.

A demo put in a prompt steers every answer after it, so a demo file is input to
check, not to trust: :func:`load_demos` validates the types and fields of every
entry and records where each demo came from (the file and entry, and a content
hash), so a run's demos can be audited and a poisoned file traced
(see :mod:`reasoners.audit` and ``docs/security.md``).

>>> demos = load_demos("demos.json")  # doctest: +SKIP
>>> demos[0].source, demos[0].digest  # doctest: +SKIP
('demos.json#0', '3f2a...')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["Demo", "load_demos", "demos_from"]

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


def demos_from(value: Sequence[Demo] | str | Path | None, *, owner: str) -> tuple[Demo, ...]:
    """Demos given to a strategy as objects or as a file path (spec strings pass paths)."""
    if value is None:
        return ()
    if isinstance(value, (str, Path)):
        return tuple(load_demos(value))
    demos = tuple(value)
    bad = next((d for d in demos if not isinstance(d, Demo)), None)
    if bad is not None:
        raise ConfigError(f"{owner} demos must be Demo objects or a demos file path; got {type(bad).__name__}")
    return demos
