"""A strategy's settings are declared once, as the fields of a frozen dataclass: validation,
``config()``, spec parsing and printing and the docs' parameter tables all read those fields."""

from __future__ import annotations

import ast
import dataclasses
import re
import typing
from pathlib import Path

import pytest

from reasoners.core.errors import ConfigError
from reasoners.spec import parse_spec, to_spec
from reasoners.strategies import REGISTRY
from reasoners.strategies.base import STAGES
from reasoners.strategies.params import field_hints
from reasoners.strategies.scorers import SCORERS

ROOT = Path(__file__).resolve().parents[1]
EVERY = {**{f"strategy {k}": v for k, v in REGISTRY.items()}, **{f"stage {k}": v for k, v in STAGES.items()},
         **{f"scorer {k}": v for k, v in SCORERS.items()}}
NEEDS = {"autocot": {"pool": str(ROOT / "tests" / "data" / "gsm8k_test_first30.jsonl")}}  # settings it needs


def build(cls: type, **kwargs: typing.Any) -> typing.Any:
    return cls(**{**NEEDS.get(getattr(cls, "name", ""), {}), **kwargs})


@pytest.mark.parametrize("label", sorted(EVERY))
def test_every_registered_class_is_a_frozen_dataclass(label):
    cls = EVERY[label]
    assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    obj = build(cls)
    public = [f for f in dataclasses.fields(obj) if f.init]
    if public:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, public[-1].name, None)
    assert set(obj.config()) == {f.name for f in public}


def test_no_strategy_module_writes_its_settings_by_hand():
    for path in sorted((ROOT / "reasoners" / "strategies").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
                if node.name in ("Strategy", "Stage", "Scorer"):
                    continue  # the bases define config() once, over the fields
                assert not names & {"__init__", "config", "spec_value"}, f"{path.name}: {node.name} defines {names}"


def _bounded():
    for label, cls in sorted(EVERY.items()):
        for f in dataclasses.fields(cls):
            if f.metadata.get("ge") is not None:
                yield label, f.name, f.metadata["ge"] - 1
            if f.metadata.get("gt") is not None:
                yield label, f.name, f.metadata["gt"]
            if typing.get_origin(field_hints(cls).get(f.name)) is typing.Literal:
                yield label, f.name, "no-such-option"


@pytest.mark.parametrize("label,name,bad", list(_bounded()))
def test_a_value_out_of_its_declared_range_is_refused_naming_the_field(label, name, bad):
    with pytest.raises(ConfigError, match=rf"{name} must be"):
        build(EVERY[label], **{name: bad})


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_defaults_print_as_the_bare_name_and_round_trip(name):
    obj = build(REGISTRY[name])
    text = to_spec(obj)
    assert text == name or name in NEEDS
    assert to_spec(parse_spec(text)) == text


def _table(page: str) -> set[str]:
    """The first column of a docs page's first parameter table."""
    names: set[str] = set()
    for line in page.splitlines():
        m = re.match(r"\| (`\w+`(?:, `\w+`)*) \|", line)
        if m:
            names |= set(re.findall(r"`(\w+)`", m.group(1)))
        elif names and not line.startswith("|"):
            break
    return names


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_strategy_page_tables_exactly_its_fields(name):
    page = ROOT / "docs" / "strategies" / f"{name}.md"
    assert page.exists(), f"no docs page for {name}"
    fields = {f.name for f in dataclasses.fields(REGISTRY[name]) if f.init}
    assert _table(page.read_text(encoding="utf-8")) == fields
