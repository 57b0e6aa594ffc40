"""One grammar for every spec-like string: pipelines, the bench's lists, task specs and the server's
``spec@model`` read the same syntax and fail the same way."""

from __future__ import annotations

import pytest

from reasoners.bench import parse_strategies
from reasoners.bench.tasks import parse_task_spec
from reasoners.core.errors import ConfigError, SpecError
from reasoners.server.request import BadRequest, split_model
from reasoners.spec import parse_spec, to_spec
from reasoners.spec.grammar import Term, Word, parse_list, parse_one, parse_term


def test_a_quoted_parenthesis_is_text_in_every_reader():
    spec = 'cot(system="x) y")'
    assert parse_spec(spec).system == "x) y"
    [(label, strategy)] = parse_strategies(spec)
    assert label == spec and strategy.system == "x) y"
    assert split_model(spec + "@openai/m") == (spec, "openai/m")


def test_a_quoted_comma_and_at_sign_do_not_split():
    items = parse_strategies('cot(system="a, b"),sc:2')
    assert [label for label, _ in items] == ['cot(system="a, b")', "sc:2"]
    assert split_model('cot(system="me@host")@local/smollm2') == ('cot(system="me@host")', "local/smollm2")


def test_count_is_short_for_n_everywhere():
    assert to_spec(parse_spec("sc:3")) == to_spec(parse_spec("sc(n=3)"))
    assert parse_spec("sc(base=sc:2)").base.n == 2  # nested too, not only at the top of a list
    with pytest.raises(SpecError, match="does not take ':N'"):
        parse_spec("cot:3")
    with pytest.raises(SpecError, match="gives n twice"):
        parse_spec("sc:3(n=2)")
    with pytest.raises(SpecError, match="N >= 1"):
        parse_strategies("sc:0")


def test_the_tree_keeps_words_terms_and_literals_apart():
    term = parse_term('t(a=1, b=2.5, c=true, d=none, e="q", f=word, g=x(y=1))')
    assert term.args["a"] == 1 and term.args["b"] == 2.5 and term.args["c"] is True and term.args["d"] is None
    assert term.args["e"] == "q" and term.args["f"] == Word("word", term.args["f"].pos)
    assert isinstance(term.args["g"], Term) and term.args["g"].args == {"y": 1}
    assert parse_one("bon.paper(n=2) | trlm").terms[0].preset == "paper"
    assert parse_one("cot@openai/m:1", model=True).model == "openai/m:1"  # the model is the rest, as written
    assert [s.text for s in parse_list(" cot , sc:8 ,bon:2 ")] == ["cot", "sc:8", "bon:2"]


def test_task_specs_use_the_grammar():
    assert parse_task_spec("sudoku(max_empty=8,seed=1)") == ("sudoku", {"max_empty": 8, "seed": 1})
    assert parse_task_spec('countdown(name="a,b")') == ("countdown", {"name": "a,b"})
    with pytest.raises(ConfigError, match="key=value"):
        parse_task_spec("sudoku(4)")


@pytest.mark.parametrize("text", ["cot,", ",cot", "cot,,sc", "cot(", "cot | ", "sc(n=)", "cot(a=1,a=2)"])
def test_malformed_lists_fail_with_a_position(text):
    with pytest.raises(SpecError, match="at position"):
        parse_strategies(text)


def test_a_pipeline_spec_is_not_a_list_or_a_model():
    with pytest.raises(SpecError, match="unexpected ','"):
        parse_spec("cot,sc")
    with pytest.raises(SpecError):
        parse_spec("cot@openai/m")
    with pytest.raises(BadRequest, match="both parts"):
        split_model("cot@")
