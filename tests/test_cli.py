"""CLI errors: one clear line on stderr and a non-zero exit, before any model call."""

from __future__ import annotations

import pytest

from reasoners.cli import main


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_unknown_strategy(capsys):
    code, _, err = run_cli(capsys, "run", "q?", "--strategy", "telepathy")
    assert code == 2
    assert "unknown strategy 'telepathy'" in err and "cot" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_model(capsys):
    code, _, err = run_cli(capsys, "run", "q?", "--model", "nosuchprovider/x", "--no-cache")
    assert code == 2 and "unknown model" in err


def test_unknown_local_model(capsys):
    code, _, err = run_cli(capsys, "run", "q?", "--model", "local/nope", "--no-cache")
    assert code == 2 and "unknown local model 'nope'" in err


def test_missing_provider_key_names_the_variable(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, _, err = run_cli(capsys, "run", "q?", "--model", "openai/gpt-4o-mini", "--no-cache")
    assert code == 2 and "OPENAI_API_KEY" in err


def test_unwritable_trace_path(capsys, tmp_path):
    bad = tmp_path / "no" / "such" / "dir" / "trace.json"
    code, _, err = run_cli(capsys, "run", "q?", "--trace", str(bad), "--no-cache")
    assert code == 2 and "cannot write trace file" in err and str(bad) in err


def test_bad_budget_is_named(capsys):
    code, _, err = run_cli(capsys, "run", "q?", "--budget-tokens", "-5", "--no-cache")
    assert code == 2 and "tokens" in err


def test_usage_error_from_argparse(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run"])
    assert e.value.code == 2


def test_bad_pipeline_spec_points_at_it(capsys):
    code, _, err = run_cli(capsys, "run", "q?", "--pipeline", "sc(n=8) | cot", "--no-cache")
    assert code == 2 and "unknown stage 'cot'" in err and "^" in err


def test_pipeline_runs_on_a_fake_model(capsys, monkeypatch):
    from reasoners.llm import client
    from reasoners.testing import FakeModel

    fake = FakeModel(["The answer is 12."], score=lambda p, c: -1.0)
    original = client.LLM.__init__

    def with_fake(self, model, **kw):
        original(self, "fake/cli", **{**kw, "backend": fake})

    monkeypatch.setattr(client.LLM, "__init__", with_fake)
    code, out, _ = run_cli(capsys, "run", "q?", "--pipeline", "sc(n=3) | trlm", "--no-cache", "--json")
    assert code == 0
    assert '"answer": "12"' in out and len(fake.requests) == 3 and len(fake.scored) == 3
