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
